import type { FileHandleLike } from '../file-layer.js';
import { FRAME_MAGIC, HEADER_BYTES, crcMatches, frameLength, frameOffset, hasMagic, offsetPlausible } from './frame.js';

/** Default read size: large reads keep the number of syscalls per record low. */
export const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * One step of a scan. A `frame` points into the scanner's buffer (`buffer[payloadStart ..
 * payloadStart + payloadLength]`), which the next call to `next()` may overwrite: copy what you
 * keep. `corrupt` is an invalid region followed by a valid frame; `tail` is an invalid region
 * with no valid frame after it up to the limit (a torn write, or bytes not yet written).
 */
export type ScanItem =
  | { kind: 'frame'; position: number; offset: number; buffer: Buffer; payloadStart: number; payloadLength: number }
  | { kind: 'corrupt'; position: number; length: number }
  | { kind: 'tail'; position: number; length: number };

/**
 * Reads the frames of one segment file between `start` and `limit`, verifying every CRC and
 * resynchronising past invalid bytes by searching for the next magic that starts a valid frame.
 *
 * @example
 * ```ts
 * const scanner = new SegmentScanner(fh, 0, await fh.size());
 * for (let item = await scanner.next(); item; item = await scanner.next()) {
 *   if (item.kind === 'frame') console.log(item.offset);
 * }
 * ```
 */
export class SegmentScanner {
  /** Where the next item starts. */
  position: number;
  private buf: Buffer;
  private bufPos = 0;
  private bufLen = 0;

  constructor(
    private readonly fh: FileHandleLike,
    start: number,
    private readonly limit: number,
    buffer?: Buffer,
  ) {
    this.position = start;
    this.buf = buffer ?? Buffer.allocUnsafe(Math.max(HEADER_BYTES, Math.min(READ_CHUNK_BYTES, limit - start)));
  }

  async next(): Promise<ScanItem | undefined> {
    const p = this.position;
    if (p >= this.limit) return undefined;
    const len = await this.validFrameAt(p);
    if (len >= 0) {
      const i = p - this.bufPos;
      this.position = p + HEADER_BYTES + len;
      return { kind: 'frame', position: p, offset: frameOffset(this.buf, i), buffer: this.buf, payloadStart: i + HEADER_BYTES, payloadLength: len };
    }
    const q = await this.findValidFrom(p + 1);
    if (q < 0) {
      this.position = this.limit;
      return { kind: 'tail', position: p, length: this.limit - p };
    }
    this.position = q;
    return { kind: 'corrupt', position: p, length: q - p };
  }

  /** Payload length of the valid frame at `pos`, or -1. */
  private async validFrameAt(pos: number): Promise<number> {
    if (pos + HEADER_BYTES > this.limit || !(await this.ensure(pos, HEADER_BYTES))) return -1;
    let i = pos - this.bufPos;
    if (!hasMagic(this.buf, i) || !offsetPlausible(this.buf, i)) return -1;
    const len = frameLength(this.buf, i);
    if (pos + HEADER_BYTES + len > this.limit || !(await this.ensure(pos, HEADER_BYTES + len))) return -1;
    i = pos - this.bufPos;
    return crcMatches(this.buf, i, len) ? len : -1;
  }

  /** Position of the first valid frame at or after `from`, or -1. */
  private async findValidFrom(from: number): Promise<number> {
    let q = from;
    while (q + HEADER_BYTES <= this.limit) {
      if (!(await this.ensure(q, HEADER_BYTES))) return -1;
      const idx = this.buf.subarray(0, this.bufLen).indexOf(FRAME_MAGIC, q - this.bufPos);
      if (idx < 0) {
        // Keep the last 3 bytes: a magic may straddle the end of this chunk.
        q = Math.max(q + 1, this.bufPos + this.bufLen - (FRAME_MAGIC.length - 1));
        continue;
      }
      const candidate = this.bufPos + idx;
      if ((await this.validFrameAt(candidate)) >= 0) return candidate;
      q = candidate + 1;
    }
    return -1;
  }

  /** Makes file bytes [pos, pos + n) available in the buffer; false if the file ends first. */
  private async ensure(pos: number, n: number): Promise<boolean> {
    if (pos >= this.bufPos && pos + n <= this.bufPos + this.bufLen) return true;
    const want = Math.min(Math.max(n, this.buf.length), this.limit - pos);
    // Frames larger than the chunk get a buffer of their own, kept for the rest of this scan.
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const r = await this.fh.read(this.buf, got, want - got, pos + got);
      if (r === 0) break;
      got += r;
    }
    this.bufPos = pos;
    this.bufLen = got;
    return got >= n;
  }
}
