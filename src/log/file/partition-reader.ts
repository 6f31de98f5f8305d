import type { LogRecord } from '../event-log.js';
import type { FileHandleLike, FileLayer } from '../file-layer.js';
import type { CorruptionReporter } from './corruption.js';
import type { HeadState } from './head.js';
import { isErrno, listSegments, type PartitionLayout } from './layout.js';
import { SegmentScanner } from './segment-scanner.js';

export interface PartitionReaderContext {
  fileLayer: FileLayer;
  layout: PartitionLayout;
  /** The durable head: from an in-process writer when there is one, else the head file. */
  head(): Promise<HeadState>;
  reporter: CorruptionReporter;
}

interface OpenSegment {
  base: number;
  path: string;
  fh: FileHandleLike;
  /** File size, read once the segment is known to be complete (it no longer changes). */
  size: number | undefined;
}

/**
 * Reads one partition sequentially from a position, never past the durable head (or, with no
 * head file, past the last valid frame). Skips and reports corrupt regions; never returns a
 * record whose CRC does not match.
 */
export class PartitionReader {
  /** Offset of the next record to return. */
  position: number;
  private segment: OpenSegment | undefined;
  /** Byte position in `segment` where the frame of `position` (or a later one) starts. */
  private bytePos = 0;

  constructor(
    private readonly ctx: PartitionReaderContext,
    position: number,
  ) {
    this.position = position;
  }

  get partition(): number {
    return this.ctx.layout.partition;
  }

  /** Moves to `offset`; the file position is found again on the next read. */
  seek(offset: number): void {
    this.position = offset;
    void this.dropSegment();
  }

  /**
   * Appends up to `max - out.length` records to `out`. `chunk` is a scratch read buffer; the
   * returned payloads are copies, so it is never retained.
   */
  async read(max: number, out: LogRecord[], chunk: Buffer): Promise<void> {
    const head = await this.ctx.head();
    if (head === 'unknown') return;
    // Idle fast path: nothing durable past our position, no I/O at all.
    if (head !== 'absent' && this.position >= head.nextOffset) return;
    if (!this.segment && !(await this.locate())) return;

    while (out.length < max) {
      const seg = this.segment!;
      let limit: number;
      let complete: boolean;
      if (head === 'absent') {
        limit = await seg.fh.size();
        complete = false;
      } else if (seg.base < head.segmentBase) {
        seg.size ??= await seg.fh.size();
        limit = seg.size;
        complete = true;
      } else if (seg.base === head.segmentBase) {
        limit = head.segmentLength;
        complete = false;
      } else {
        return;
      }

      let tail: { position: number; length: number } | undefined;
      if (this.bytePos < limit) {
        const scanner = new SegmentScanner(seg.fh, this.bytePos, limit, chunk);
        for (let item = await scanner.next(); item; item = await scanner.next()) {
          if (item.kind === 'frame') {
            if (item.offset >= this.position) {
              if (out.length >= max) break;
              // A copy: the payload must not pin the whole read chunk.
              const value = Buffer.from(item.buffer.subarray(item.payloadStart, item.payloadStart + item.payloadLength));
              out.push({ partition: this.partition, offset: item.offset, value });
              this.position = item.offset + 1;
            }
            this.bytePos = scanner.position;
          } else if (item.kind === 'corrupt') {
            this.reportCorrupt(seg, item.position, item.length);
            this.bytePos = scanner.position;
          } else {
            tail = item;
          }
        }
      }
      if (out.length >= max) return;

      if (tail) {
        // Durable bytes are all supposed to be frames; only beyond a missing head can a tail be
        // a write still in progress, unless a later segment proves this one finished.
        if (head === 'absent' && !(await this.hasLaterSegment(seg.base))) return;
        this.reportCorrupt(seg, tail.position, tail.length);
        this.bytePos = tail.position + tail.length;
        if (head === 'absent') complete = true;
      } else if (head === 'absent' && this.bytePos >= limit) {
        complete = await this.hasLaterSegment(seg.base);
      }
      if (!complete || this.bytePos < limit) return;
      if (!(await this.advance(seg.base))) return;
    }
  }

  async close(): Promise<void> {
    await this.dropSegment();
  }

  /** Opens the segment holding `position`: the one with the largest base at or below it. */
  private async locate(): Promise<boolean> {
    const bases = await listSegments(this.ctx.fileLayer, this.ctx.layout.dir);
    let i = bases.length - 1;
    while (i > 0 && bases[i]! > this.position) i--;
    for (; i >= 0 && i < bases.length; i++) {
      // Retention may delete a segment between the listing and the open: take the next one.
      if (await this.openSegment(bases[i]!)) return true;
    }
    return false;
  }

  /** Moves to the first segment after `base`; frames before `position` are skipped while reading. */
  private async advance(base: number): Promise<boolean> {
    const bases = await listSegments(this.ctx.fileLayer, this.ctx.layout.dir);
    for (const b of bases) {
      if (b > base && (await this.openSegment(b))) return true;
    }
    return false;
  }

  private async openSegment(base: number): Promise<boolean> {
    const path = this.ctx.layout.segment(base);
    let fh: FileHandleLike;
    try {
      fh = await this.ctx.fileLayer.open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    await this.dropSegment();
    this.segment = { base, path, fh, size: undefined };
    this.bytePos = 0;
    return true;
  }

  private async hasLaterSegment(base: number): Promise<boolean> {
    const bases = await listSegments(this.ctx.fileLayer, this.ctx.layout.dir);
    return bases.some((b) => b > base);
  }

  private async dropSegment(): Promise<void> {
    const seg = this.segment;
    this.segment = undefined;
    this.bytePos = 0;
    await seg?.fh.close().catch(() => undefined);
  }

  private reportCorrupt(seg: OpenSegment, position: number, length: number): void {
    this.ctx.reporter.report({ partition: this.partition, file: seg.path, position, length, detectedBy: 'reader' });
  }
}
