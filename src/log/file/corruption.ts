import { basename, join } from 'node:path';
import type { FileHandleLike, FileLayer } from '../file-layer.js';
import { READ_CHUNK_BYTES } from './segment-scanner.js';

/** A corrupt region found in a segment: bytes that are not valid frames but have valid frames after them. */
export interface CorruptionInfo {
  partition: number;
  /** Path of the segment file. */
  file: string;
  /** Byte position of the region in the file. */
  position: number;
  length: number;
  /** Where recovery copied the bytes, when it did. */
  quarantinedTo?: string;
  /** `recovery` when the writer found it on open, `reader` when a consumer skipped it. */
  detectedBy: 'recovery' | 'reader';
}

/** The logger the file log needs: pino's `warn`/`error` shape. */
export interface LogLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Reports each corrupt region once per log instance (recovery and every consumer may all run
 * into the same one) and counts them per partition for `stats()`.
 */
export class CorruptionReporter {
  private readonly seen = new Set<string>();
  private readonly counts = new Map<number, number>();

  constructor(
    private readonly logger: LogLogger,
    private readonly onCorrupt: ((info: CorruptionInfo) => void) | undefined,
  ) {}

  report(info: CorruptionInfo): void {
    const key = `${info.file}:${info.position}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.counts.set(info.partition, (this.counts.get(info.partition) ?? 0) + 1);
    this.logger.error({ code: 'WEIR_LOG_CORRUPT', ...info }, `corrupt record in ${info.file} at byte ${info.position} (${info.length} bytes skipped)`);
    try {
      this.onCorrupt?.(info);
    } catch (err) {
      this.logger.warn({ err }, 'onCorrupt callback threw');
    }
  }

  count(partition: number): number {
    return this.counts.get(partition) ?? 0;
  }
}

/**
 * Copies `length` bytes at `position` of a segment to `quarantine/<segment>-<position>.bin`,
 * so an operator can inspect what was skipped. Returns the path written.
 */
export async function quarantineRegion(
  fileLayer: FileLayer,
  quarantineDir: string,
  segmentPath: string,
  segment: FileHandleLike,
  position: number,
  length: number,
): Promise<string> {
  await fileLayer.mkdir(quarantineDir);
  const path = join(quarantineDir, `${basename(segmentPath, '.seg')}-${position}.bin`);
  const out = await fileLayer.open(path, 'w+');
  try {
    const buf = Buffer.allocUnsafe(Math.min(length, READ_CHUNK_BYTES));
    let done = 0;
    while (done < length) {
      const n = await segment.read(buf, 0, Math.min(buf.length, length - done), position + done);
      if (n === 0) break;
      await out.writev([buf.subarray(0, n)], done);
      done += n;
    }
    await out.datasync();
  } finally {
    await out.close();
  }
  await fileLayer.syncDir(quarantineDir);
  return path;
}
