import type { FileHandleLike, FileLayer } from '../file-layer.js';
import { quarantineRegion, type CorruptionReporter } from './corruption.js';
import { HEADER_BYTES } from './frame.js';
import type { PartitionLayout } from './layout.js';
import { SegmentScanner } from './segment-scanner.js';

export interface RecoveredSegment {
  /** Bytes of valid frames kept: the file size after recovery. */
  size: number;
  /** Offset after the last valid frame (the segment's base when it has none). */
  nextOffset: number;
}

/**
 * Makes the last segment of a partition safe to append to, before the writer opens it.
 *
 * - A torn tail (an incomplete frame, garbage or zeros with no valid frame after them, which is
 *   what a crash in the middle of a write leaves) is truncated away.
 * - An invalid region followed by valid frames is corruption: its bytes are copied to
 *   `quarantine/`, reported, and left in place; readers skip it and the frames after it are kept.
 *
 * The file is fdatasync'd at the end even when nothing changed: frames written by a process that
 * died before its fsync may still sit only in the page cache, and they become visible to readers
 * as soon as the new writer publishes its head.
 *
 * @example
 * ```ts
 * const { size, nextOffset } = await recoverSegment(fileLayer, layout, base, fh, reporter);
 * ```
 */
export async function recoverSegment(
  fileLayer: FileLayer,
  layout: PartitionLayout,
  base: number,
  fh: FileHandleLike,
  reporter: CorruptionReporter,
): Promise<RecoveredSegment> {
  const fileSize = await fh.size();
  const path = layout.segment(base);
  const scanner = new SegmentScanner(fh, 0, fileSize);
  let end = 0;
  let nextOffset = base;
  for (let item = await scanner.next(); item; item = await scanner.next()) {
    if (item.kind === 'frame') {
      end = item.position + HEADER_BYTES + item.payloadLength;
      nextOffset = Math.max(nextOffset, item.offset + 1);
    } else if (item.kind === 'corrupt') {
      const quarantinedTo = await quarantineRegion(fileLayer, layout.quarantine, path, fh, item.position, item.length);
      reporter.report({ partition: layout.partition, file: path, position: item.position, length: item.length, quarantinedTo, detectedBy: 'recovery' });
    }
  }
  if (end < fileSize) await fh.truncate(end);
  await fh.datasync();
  return { size: end, nextOffset };
}

/**
 * The offset after the last valid frame of a segment, for partitions without a head file.
 */
export async function scanNextOffset(fh: FileHandleLike, base: number): Promise<number> {
  const scanner = new SegmentScanner(fh, 0, await fh.size());
  let next = base;
  for (let item = await scanner.next(); item; item = await scanner.next()) {
    if (item.kind === 'frame') next = Math.max(next, item.offset + 1);
  }
  return next;
}
