import { WeirError } from '../../errors/catalogue.js';
import type { FileLayer } from '../file-layer.js';
import { errDetail, isErrno } from './layout.js';

/** Lock paths this process holds: a second writer in the same process is refused too. */
const heldByThisProcess = new Set<string>();

/** A lock file younger than this without a pid in it is being written, not abandoned. */
const FRESH_LOCK_MS = 5_000;

export interface PartitionLock {
  release(): Promise<void>;
}

/**
 * Takes the writer lock of a partition: a `lock` file created exclusively with our pid in it.
 * A lock left by a dead process (`kill(pid, 0)` fails with ESRCH) is taken over. Throws
 * `WEIR_LOG_LOCKED` when a live process holds it.
 *
 * Two processes taking over the same stale lock at the same instant can race; a stale lock only
 * exists after a crash, and `weir` starts one writer per partition, so this is accepted.
 *
 * @example
 * ```ts
 * const lock = await acquirePartitionLock(nodeFileLayer, '.weir/log/0/lock', 0);
 * await lock.release();
 * ```
 */
export async function acquirePartitionLock(fileLayer: FileLayer, path: string, partition: number): Promise<PartitionLock> {
  if (heldByThisProcess.has(path)) throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: process.pid });
  // Claimed before the first await so a concurrent call in this process sees it.
  heldByThisProcess.add(path);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fh = await fileLayer.open(path, 'wx+');
        try {
          await fh.writev([Buffer.from(`${process.pid}\n`)], 0);
          // Synced so a power loss cannot leave an empty lock file, which would read as "being
          // created right now" and keep the partition shut for a while after the restart.
          await fh.datasync();
        } finally {
          await fh.close();
        }
        return { release: () => releaseLock(fileLayer, path) };
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      const holder = await readHolder(fileLayer, path);
      if (holder === 'gone') continue;
      if (holder === 'fresh') throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: 'unknown' });
      // Our own pid but not in heldByThisProcess: left by an earlier instance that never closed.
      if (holder !== 'stale' && holder !== process.pid && isAlive(holder)) {
        throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: holder });
      }
      try {
        await fileLayer.unlink(path);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: 'unknown' });
  } catch (err) {
    heldByThisProcess.delete(path);
    if (err instanceof WeirError) throw err;
    throw new WeirError('WEIR_LOG_WRITE_FAILED', { detail: `cannot lock ${path}: ${errDetail(err)}` }, { cause: err });
  }
}

async function releaseLock(fileLayer: FileLayer, path: string): Promise<void> {
  if (!heldByThisProcess.delete(path)) return;
  try {
    await fileLayer.unlink(path);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/** The pid in a lock file, or why there is none. */
async function readHolder(fileLayer: FileLayer, path: string): Promise<number | 'gone' | 'fresh' | 'stale'> {
  let text: string;
  try {
    const fh = await fileLayer.open(path, 'r');
    try {
      const buf = Buffer.alloc(32);
      const n = await fh.read(buf, 0, buf.length, 0);
      text = buf.toString('latin1', 0, n).trim();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'gone';
    throw err;
  }
  if (/^\d+$/.test(text)) return Number(text);
  const st = await fileLayer.stat(path);
  if (!st) return 'gone';
  return Date.now() - st.mtimeMs < FRESH_LOCK_MS ? 'fresh' : 'stale';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return isErrno(err, 'EPERM');
  }
}
