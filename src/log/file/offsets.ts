import { join } from 'node:path';
import type { FileLayer } from '../file-layer.js';
import { isErrno, readdirOrEmpty } from './layout.js';

/**
 * Committed offsets: `consumers/<group>` holds the group's next offset as decimal text. Written
 * atomically (temporary file, fdatasync, rename, directory fsync) so a crash leaves either the
 * old or the new value, never a torn one.
 */

/** The committed next offset of a group, or undefined when it has none. */
export async function readCommitted(fileLayer: FileLayer, path: string): Promise<number | undefined> {
  let fh;
  try {
    fh = await fileLayer.open(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const buf = Buffer.alloc(32);
    const n = await fh.read(buf, 0, buf.length, 0);
    const text = buf.toString('latin1', 0, n).trim();
    return /^\d{1,16}$/.test(text) ? Number(text) : undefined;
  } finally {
    await fh.close();
  }
}

let tmpSeq = 0;

export async function writeCommitted(fileLayer: FileLayer, consumersDir: string, group: string, offset: number): Promise<void> {
  await fileLayer.mkdir(consumersDir);
  // A leading dot cannot start a group name, so temporary files never look like groups.
  const tmp = join(consumersDir, `.${group}.${process.pid}.${tmpSeq++}.tmp`);
  const fh = await fileLayer.open(tmp, 'w+');
  try {
    await fh.writev([Buffer.from(`${offset}\n`)], 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fileLayer.rename(tmp, join(consumersDir, group));
  await fileLayer.syncDir(consumersDir);
}

/** Groups with a committed-offset file in this directory. */
export async function listGroupFiles(fileLayer: FileLayer, consumersDir: string): Promise<string[]> {
  return (await readdirOrEmpty(fileLayer, consumersDir)).filter((n) => !n.startsWith('.')).sort();
}
