import { crc32 } from 'node:zlib';
import type { FileHandleLike, FileLayer } from '../file-layer.js';
import { isErrno } from './layout.js';

/**
 * The durable head of a partition: everything before `segmentLength` bytes of segment
 * `segmentBase` (and all earlier segments) has been fdatasync'd, and `nextOffset` is the offset
 * the next record will get. Readers never read past it, so no consumer can see (and commit)
 * a record that a crash could take back.
 */
export interface DurableHead {
  readonly segmentBase: number;
  readonly segmentLength: number;
  readonly nextOffset: number;
}

/**
 * `head` file: 32 bytes, rewritten in place with one pwrite after each fdatasync.
 * magic(4) | crc32 of bytes 8..32 (4) | segmentBase (8) | segmentLength (8) | nextOffset (8),
 * each 64-bit value as two little-endian u32. A reader that races a pwrite sees a bad CRC and
 * reads again.
 */
export const HEAD_BYTES = 32;
const HEAD_MAGIC = Buffer.from([0xfe, 0xff, 0x57, 0x48]).readUInt32LE(0);
const TWO_32 = 0x1_0000_0000;

export function encodeHead(head: DurableHead, out: Buffer = Buffer.allocUnsafe(HEAD_BYTES)): Buffer {
  out.writeUInt32LE(HEAD_MAGIC, 0);
  write64(out, 8, head.segmentBase);
  write64(out, 16, head.segmentLength);
  write64(out, 24, head.nextOffset);
  out.writeUInt32LE(crc32(out.subarray(8, HEAD_BYTES)), 4);
  return out;
}

export function decodeHead(buf: Buffer): DurableHead | undefined {
  if (buf.length < HEAD_BYTES || buf.readUInt32LE(0) !== HEAD_MAGIC) return undefined;
  if (crc32(buf.subarray(8, HEAD_BYTES)) !== buf.readUInt32LE(4)) return undefined;
  return { segmentBase: read64(buf, 8), segmentLength: read64(buf, 16), nextOffset: read64(buf, 24) };
}

function write64(buf: Buffer, at: number, v: number): void {
  buf.writeUInt32LE(v >>> 0, at);
  buf.writeUInt32LE(Math.floor(v / TWO_32), at + 4);
}

function read64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}

/** `absent`: no head file (no writer ever ran); `unknown`: unreadable right now, try later. */
export type HeadState = DurableHead | 'absent' | 'unknown';

/**
 * Reads a partition's head file for readers in other processes than the writer. Keeps the file
 * open between reads: the writer only ever rewrites it in place, so the handle stays current.
 */
export class HeadFileReader {
  private fh: FileHandleLike | undefined;
  private opening: Promise<FileHandleLike> | undefined;
  private readonly buf = Buffer.allocUnsafe(HEAD_BYTES);

  constructor(
    private readonly fileLayer: FileLayer,
    private readonly path: string,
  ) {}

  async read(): Promise<HeadState> {
    if (!this.fh) {
      // One open shared by concurrent readers: a second handle would be dropped unclosed.
      this.opening ??= this.fileLayer.open(this.path, 'r').finally(() => (this.opening = undefined));
      try {
        this.fh = await this.opening;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return 'absent';
        throw err;
      }
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const n = await this.fh.read(this.buf, 0, HEAD_BYTES, 0);
      const head = n === HEAD_BYTES ? decodeHead(this.buf) : undefined;
      if (head) return head;
    }
    return 'unknown';
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
