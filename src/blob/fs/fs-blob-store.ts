import { randomBytes } from 'node:crypto';
import { promises as fsp, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { WeirError } from '../../errors/catalogue.js';
import { nodeFileLayer } from '../../log/file-layer.js';
import {
  checkRange,
  compareKeys,
  isValidKey,
  TEMP_SEGMENT,
  validateKey,
  type BlobInfo,
  type BlobStore,
  type GetOptions,
  type PutBody,
  type PutOptions,
} from '../blob-store.js';
import { bodyChunks } from '../body-parts.js';

export interface FsBlobStoreOptions {
  /** The lake's root directory; created when missing. */
  dir: string;
  /**
   * Temporary files of puts that never finished (the process died) are removed at open once they
   * are this old; younger ones may belong to another process's put in progress. Default one day.
   */
  staleTempMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A put retries its rename this often when a concurrent delete removes the emptied folder under it. */
const PLACE_ATTEMPTS = 5;

/**
 * A BlobStore in a local directory: one file per key, written to `<dir>/.tmp/`, fsynced, then
 * renamed into place (and the directory fsynced), so a key shows either the old file or the
 * complete new one, also across a crash.
 *
 * @example
 * ```ts
 * const store = await openFsBlobStore({ dir: '.weir/lake' });
 * await store.put('source=s1/date=2026-11-22/hour=14/00000-00099.parquet', bytes);
 * store.localPath('source=s1/date=2026-11-22/hour=14/00000-00099.parquet'); // '/abs/.weir/lake/source=s1/…'
 * ```
 */
export async function openFsBlobStore(opts: FsBlobStoreOptions): Promise<BlobStore> {
  const root = resolve(opts.dir);
  const tmp = join(root, TEMP_SEGMENT);
  try {
    await fsp.mkdir(tmp, { recursive: true });
    await removeStaleTemps(tmp, Date.now() - (opts.staleTempMs ?? DAY_MS));
  } catch (err) {
    throw fsFailure(err, '');
  }
  return new FsBlobStore(root, tmp);
}

async function removeStaleTemps(tmp: string, before: number): Promise<void> {
  for (const name of await fsp.readdir(tmp)) {
    const path = join(tmp, name);
    const st = await fsp.stat(path).catch(() => undefined);
    if (st && st.mtimeMs < before) await fsp.rm(path, { force: true, recursive: true });
  }
}

class FsBlobStore implements BlobStore {
  readonly kind = 'fs' as const;

  constructor(
    private readonly root: string,
    private readonly tmp: string,
  ) {}

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ key: string; size: number }> {
    const target = this.pathOf(key);
    const tmp = join(this.tmp, `${randomBytes(8).toString('hex')}.part`);
    const fh = await fsCall(() => fsp.open(tmp, 'wx'), key);
    let size = 0;
    try {
      try {
        // The body's own errors (and the signal's AbortError) reach the caller unchanged.
        for await (const chunk of bodyChunks(body, opts.signal)) {
          await fsCall(() => writeAt(fh, chunk, size), key);
          size += chunk.length;
        }
        opts.signal?.throwIfAborted();
        await fsCall(() => fh.sync(), key);
      } finally {
        await fh.close();
      }
      await fsCall(() => this.place(tmp, target), key);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return { key, size };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const path = this.pathOf(key);
    const range = checkRange(opts.range);
    opts.signal?.throwIfAborted();
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (err) {
      if (isMissing(err)) throw new WeirError('WEIR_BLOB_NOT_FOUND', { store: this.kind, key });
      throw fsFailure(err, key);
    }
    // Opening a directory succeeds on Linux; a folder of keys is not an object.
    if (!(await fh.stat()).isFile()) {
      await fh.close();
      throw new WeirError('WEIR_BLOB_NOT_FOUND', { store: this.kind, key });
    }
    if (range === 'empty') {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({
      ...(range ? { start: range.offset } : {}),
      ...(range?.length !== undefined ? { end: range.offset + range.length - 1 } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const path = this.pathOf(key);
    try {
      const st = await fsp.stat(path);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw fsFailure(err, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    yield* this.walk(this.root, '', prefix);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await fsp.unlink(path);
    } catch (err) {
      // EISDIR/EPERM: the key names a folder of other keys, not an object.
      if (isMissing(err) || codeOf(err) === 'EISDIR' || (codeOf(err) === 'EPERM' && (await isDirectory(path)))) return;
      throw fsFailure(err, key);
    }
    await fsCall(() => nodeFileLayer.syncDir(dirname(path)), key);
    await this.pruneEmptyFolders(dirname(path));
  }

  localPath(key: string): string | undefined {
    return this.pathOf(key);
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    return join(this.root, validateKey(key));
  }

  /** Renames a synced temporary file to its key's path, creating and syncing new folders on the way. */
  private async place(tmp: string, target: string): Promise<void> {
    const dir = dirname(target);
    for (let attempt = 1; ; attempt++) {
      try {
        const first = await fsp.mkdir(dir, { recursive: true });
        if (first !== undefined) {
          // Each new folder's entry lives in its parent: sync from the parent of the first new one down.
          for (let d = dir; d !== dirname(first); ) {
            d = dirname(d);
            await nodeFileLayer.syncDir(d);
          }
        }
        await fsp.rename(tmp, target);
        break;
      } catch (err) {
        // A concurrent delete pruned a folder it had emptied, between our mkdir and rename.
        if (codeOf(err) !== 'ENOENT' || attempt === PLACE_ATTEMPTS) throw err;
      }
    }
    await nodeFileLayer.syncDir(dir);
  }

  /** Removes folders a delete left empty, up to the root; a folder another put just filled stays. */
  private async pruneEmptyFolders(dir: string): Promise<void> {
    for (let d = dir; d.length > this.root.length && d.startsWith(this.root); d = dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch {
        return;
      }
    }
  }

  /** Files under `dir` (whose keys start with `rel`) matching prefix, in key order. */
  private async *walk(dir: string, rel: string, prefix: string): AsyncGenerator<BlobInfo> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw fsFailure(err, rel);
    }
    const items: Array<{ name: string; sortKey: string; folder: boolean }> = [];
    for (const e of entries) {
      if (rel === '' && e.name === TEMP_SEGMENT) continue;
      const key = rel + e.name;
      if (e.isDirectory()) {
        // A folder's keys all start with `name/`, which orders it among its files ('a-c' < 'a/b').
        const sortKey = `${key}/`;
        if (sortKey.startsWith(prefix) || prefix.startsWith(sortKey)) items.push({ name: e.name, sortKey, folder: true });
      } else if (e.isFile() && key.startsWith(prefix) && isValidKey(key)) {
        items.push({ name: e.name, sortKey: key, folder: false });
      }
    }
    items.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const item of items) {
      const path = join(dir, item.name);
      if (item.folder) {
        yield* this.walk(path, item.sortKey, prefix);
        continue;
      }
      // A concurrent delete may remove a file between readdir and stat.
      const st = await fsp.stat(path).catch((err: unknown) => {
        if (isMissing(err)) return undefined;
        throw fsFailure(err, item.sortKey);
      });
      if (st?.isFile()) yield { key: item.sortKey, size: st.size, lastModified: st.mtime };
    }
  }
}

async function writeAt(fh: fsp.FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await fsp.stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isMissing(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function fsCall<T>(fn: () => Promise<T>, key: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fsFailure(err, key);
  }
}

const TRANSIENT = new Set(['ENOSPC', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EDQUOT']);
const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);
/** A key whose folder is a file, or whose file is a folder: only a local directory refuses those. */
const CONFLICT = new Set(['ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY']);

function fsFailure(err: unknown, key: string): Error {
  if (err instanceof WeirError) return err;
  const code = codeOf(err) ?? '';
  const said = err instanceof Error ? err.message : String(err);
  const detail = key === '' ? said : `${key}: ${said}`;
  const options = { cause: err };
  if (TRANSIENT.has(code)) return new WeirError('WEIR_BLOB_UNAVAILABLE', { store: 'fs', detail }, options);
  if (DENIED.has(code)) return new WeirError('WEIR_BLOB_ACCESS_DENIED', { store: 'fs', key, detail }, options);
  if (CONFLICT.has(code)) {
    return new WeirError('WEIR_BLOB_INVALID_KEY', { key, detail: `in a local directory a key cannot also be the folder of other keys (${code})` }, options);
  }
  if (code === 'ENAMETOOLONG') return new WeirError('WEIR_BLOB_INVALID_KEY', { key, detail: said }, options);
  return new WeirError('WEIR_BLOB_FAILED', { store: 'fs', key, detail }, options);
}
