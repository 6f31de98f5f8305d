import { nodeFileLayer, type FileLayer } from '../file-layer.js';
import { listPartitions, listSegments, PartitionLayout } from './layout.js';
import { SegmentScanner } from './segment-scanner.js';

export interface VerifyRegion {
  /** Path of the segment file. */
  file: string;
  position: number;
  length: number;
}

export interface PartitionVerifyReport {
  partition: number;
  /** Valid records found. */
  records: number;
  /** Offset of the first valid record (the first segment's base when there is none). */
  firstOffset: number;
  /** Offset after the last valid record. */
  nextOffset: number;
  /** Invalid regions, except a torn tail at the very end of the partition. */
  corrupt: VerifyRegion[];
  /** Missing offsets `from` (inclusive) to `to` (exclusive) between retained records. */
  gaps: Array<{ from: number; to: number }>;
  /**
   * Invalid bytes at the end of the last segment: what a crash during a write leaves behind and
   * what the next writer's recovery truncates. Not counted against `ok`.
   */
  tornTail?: VerifyRegion;
}

export interface VerifyReport {
  /** True when no partition has corruption or gaps. */
  ok: boolean;
  partitions: PartitionVerifyReport[];
}

/**
 * Scans every segment of every partition of a file log, checking every frame's CRC and that
 * offsets are contiguous. Read-only: safe to run while a writer is appending (a write in progress
 * may then show up as a torn tail).
 *
 * @example
 * ```ts
 * const report = await verifyLog('.weir/log');
 * if (!report.ok) console.error(JSON.stringify(report.partitions, null, 2));
 * ```
 */
export async function verifyLog(dir: string, fileLayer: FileLayer = nodeFileLayer): Promise<VerifyReport> {
  const partitions: PartitionVerifyReport[] = [];
  for (const partition of await listPartitions(fileLayer, dir)) {
    partitions.push(await verifyPartition(fileLayer, new PartitionLayout(dir, partition)));
  }
  return { ok: partitions.every((p) => p.corrupt.length === 0 && p.gaps.length === 0), partitions };
}

async function verifyPartition(fileLayer: FileLayer, layout: PartitionLayout): Promise<PartitionVerifyReport> {
  const bases = await listSegments(fileLayer, layout.dir);
  const report: PartitionVerifyReport = {
    partition: layout.partition,
    records: 0,
    firstOffset: bases[0] ?? 0,
    nextOffset: bases[0] ?? 0,
    corrupt: [],
    gaps: [],
  };
  let expected: number | undefined;
  let tail: VerifyRegion | undefined;
  for (const base of bases) {
    const file = layout.segment(base);
    if (tail) report.corrupt.push(tail); // a tail before a later segment is not a torn write
    tail = undefined;
    const fh = await fileLayer.open(file, 'r');
    try {
      const scanner = new SegmentScanner(fh, 0, await fh.size());
      for (let item = await scanner.next(); item; item = await scanner.next()) {
        if (item.kind === 'frame') {
          if (expected === undefined) report.firstOffset = item.offset;
          else if (item.offset !== expected) report.gaps.push({ from: expected, to: item.offset });
          expected = item.offset + 1;
          report.records++;
        } else if (item.kind === 'corrupt') {
          report.corrupt.push({ file, position: item.position, length: item.length });
        } else {
          tail = { file, position: item.position, length: item.length };
        }
      }
    } finally {
      await fh.close();
    }
    // An empty last segment still says where the next record goes.
    report.nextOffset = Math.max(expected ?? base, base);
  }
  if (tail) report.tornTail = tail;
  return report;
}
