import { join } from 'node:path';
import type { FileLayer } from '../file-layer.js';

/**
 * Where everything of the file log lives:
 *
 * ```
 * <dir>/<partition>/00000000000000000000.seg   segments, named by their base offset
 *                   head                       durable head (see head.ts)
 *                   lock                       pid of the writer
 *                   consumers/<group>          committed next offset of a group
 *                   quarantine/<seg>-<pos>.bin copies of corrupt regions
 * ```
 */
export class PartitionLayout {
  readonly dir: string;
  readonly head: string;
  readonly lock: string;
  readonly consumers: string;
  readonly quarantine: string;

  constructor(
    root: string,
    readonly partition: number,
  ) {
    this.dir = join(root, String(partition));
    this.head = join(this.dir, 'head');
    this.lock = join(this.dir, 'lock');
    this.consumers = join(this.dir, 'consumers');
    this.quarantine = join(this.dir, 'quarantine');
  }

  segment(base: number): string {
    return join(this.dir, segmentName(base));
  }

  consumer(group: string): string {
    return join(this.consumers, group);
  }
}

const SEGMENT_RE = /^(\d{20})\.seg$/;
const PARTITION_RE = /^(0|[1-9]\d{0,8})$/;
/** `00000000000000000042.seg` for base offset 42. */
export function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** Base offsets of a partition's segments, ascending; empty when the directory is missing. */
export async function listSegments(fileLayer: FileLayer, partitionDir: string): Promise<number[]> {
  const names = await readdirOrEmpty(fileLayer, partitionDir);
  const bases: number[] = [];
  for (const name of names) {
    const m = SEGMENT_RE.exec(name);
    if (m) bases.push(Number(m[1]));
  }
  return bases.sort((a, b) => a - b);
}

/** Partition numbers under the log directory, ascending. */
export async function listPartitions(fileLayer: FileLayer, root: string): Promise<number[]> {
  const names = await readdirOrEmpty(fileLayer, root);
  const out: number[] = [];
  for (const name of names) if (PARTITION_RE.test(name)) out.push(Number(name));
  return out.sort((a, b) => a - b);
}

export async function readdirOrEmpty(fileLayer: FileLayer, dir: string): Promise<string[]> {
  try {
    return await fileLayer.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

export { assertGroup, assertPartition } from '../names.js';

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** A short description of a file system error for error params and logs. */
export function errDetail(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as NodeJS.ErrnoException;
    if (e.code) return `${e.code}: ${e.message}`;
    if (e.message) return e.message;
  }
  return String(err);
}
