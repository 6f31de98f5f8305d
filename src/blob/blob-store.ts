/**
 * The BlobStore port: where the lake's Parquet files live. Embedded default: a local directory
 * (`fs/`); at scale any S3-compatible store (`s3/`) or Azure Blob Storage (`azure/`). Every
 * adapter passes `test/contract/blob-store.contract.ts`.
 *
 * Keys are `/`-separated relative paths, e.g.
 * `source=src_1/date=2026-11-22/hour=14/00000-00099.parquet`. An object is visible only once its
 * put has completed, so a reader never sees half a file.
 *
 * @example
 * ```ts
 * const store = await openBlobStore({ kind: 'fs' }, { dataDir: '.weir' });
 * await store.put('source=s1/date=2026-11-22/hour=14/00000-00099.parquet', parquetBytes);
 * for await (const info of store.list('source=s1/date=2026-11-22/')) console.log(info.key, info.size);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WeirError } from '../errors/catalogue.js';

export interface BlobStore {
  readonly kind: 'fs' | 's3' | 'azure';
  /**
   * Streams body to key; the object becomes visible (list/stat/get) only when complete: a crashed
   * or aborted put leaves nothing visible. Overwrites an existing object atomically. Returns the
   * size in bytes. An aborted put rejects with the signal's AbortError; a body stream that fails
   * rejects with the stream's error.
   */
  put(key: string, body: PutBody, opts?: PutOptions): Promise<{ key: string; size: number }>;
  /**
   * A readable of the whole object, or of `range` (clipped to the object's size). Throws
   * `WEIR_BLOB_NOT_FOUND` (404) when missing.
   */
  get(key: string, opts?: GetOptions): Promise<Readable>;
  /** Metadata, or undefined when missing. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /**
   * Objects whose key starts with prefix (a plain string prefix, not only at `/`), sorted by key
   * (UTF-8 byte order, as S3), paged underneath. Never lists temporary files.
   */
  list(prefix?: string): AsyncIterable<BlobInfo>;
  /** Deletes; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** The absolute file path of a key when the store is a local directory, else undefined. */
  localPath(key: string): string | undefined;
  close(): Promise<void>;
}

export interface BlobInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export type PutBody = Readable | Buffer | Uint8Array;

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** Bytes `[offset, offset + length)`; without length, to the end. */
  range?: { offset: number; length?: number };
}

/** A key's first segment reserved for the local store's temporary files. */
export const TEMP_SEGMENT = '.tmp';

/** S3 and Azure both stop at 1024 bytes; keys stay portable between stores. */
const MAX_KEY_BYTES = 1024;
/** The longest file name of common file systems. */
const MAX_SEGMENT_BYTES = 255;

// C0 controls and DEL: NUL breaks file names, and XML 1.0 listings (S3, Azure) cannot carry most of them.
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /\p{Cs}/u;

function invalid(key: string, detail: string): WeirError {
  return new WeirError('WEIR_BLOB_INVALID_KEY', { key: key.replace(CONTROL, '?'), detail });
}

/**
 * Throws `WEIR_BLOB_INVALID_KEY` unless key is a normalised relative path that every store
 * can hold under the same name: not empty, not absolute, no empty, `.` or `..` segments, no
 * backslash, no control characters, not under the reserved `.tmp/`, at most 1024 bytes.
 *
 * @example
 * ```ts
 * validateKey('source=s1/date=2026-11-22/x.parquet'); // returns the key
 * validateKey('../etc/passwd'); // throws WEIR_BLOB_INVALID_KEY
 * ```
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw invalid(String(key), 'a key must be a non-empty string');
  if (key.startsWith('/')) throw invalid(key, 'a key must be relative, not start with /');
  if (key.includes('\\')) throw invalid(key, 'a key must not contain a backslash; use /');
  if (CONTROL.test(key)) throw invalid(key, 'a key must not contain NUL or other control characters');
  if (LONE_SURROGATE.test(key)) throw invalid(key, 'a key must be valid Unicode');
  const segments = key.split('/');
  for (const s of segments) {
    if (s === '') throw invalid(key, 'a key must not have empty segments (// or a trailing /)');
    if (s === '.' || s === '..') throw invalid(key, 'a key must not have . or .. segments');
    if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) throw invalid(key, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  if (segments[0] === TEMP_SEGMENT) throw invalid(key, `${TEMP_SEGMENT}/ is reserved for temporary files`);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw invalid(key, `a key is longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

/** True when key passes {@link validateKey}; listings skip foreign objects that do not. */
export function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * Orders keys as S3 lists them: by their UTF-8 bytes (which is code point order, unlike `<` on
 * JavaScript strings for characters beyond U+FFFF).
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Checks a get's range: undefined for the whole object, 'empty' for a zero-length range. A
 * malformed range is a programming error (RangeError), not a catalogue error.
 */
export function checkRange(range: GetOptions['range']): { offset: number; length?: number } | 'empty' | undefined {
  if (!range) return undefined;
  const { offset, length } = range;
  const bad = (n: number | undefined) => n !== undefined && (!Number.isSafeInteger(n) || n < 0);
  if (offset === undefined || bad(offset) || bad(length)) throw new RangeError(`invalid blob range: offset ${offset}, length ${length}`);
  return length === 0 ? 'empty' : range;
}

/**
 * The whole object in memory; for small objects (manifests, footers).
 *
 * @example
 * ```ts
 * const bytes = await getBuffer(store, 'source=s1/_manifest.json');
 * ```
 */
export async function getBuffer(store: BlobStore, key: string, opts?: GetOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key, opts)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Streams an object to a local file: first to a temporary file beside it, then renamed, so the
 * file at `path` is either absent, the previous one, or complete. Creates missing directories.
 * Returns the size in bytes.
 *
 * @example
 * ```ts
 * await downloadToFile(store, 'source=s1/date=2026-11-22/hour=14/00000-00099.parquet', '/tmp/part.parquet');
 * ```
 */
export async function downloadToFile(store: BlobStore, key: string, path: string, opts?: { signal?: AbortSignal }): Promise<number> {
  const body = await store.get(key, opts);
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fsp.mkdir(dirname(path), { recursive: true });
    const fh = await fsp.open(tmp, 'wx');
    let size = 0;
    try {
      await pipeline(body, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          size += chunk.length;
          await fh.write(chunk);
        }
      }, opts?.signal ? { signal: opts.signal } : {});
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
    return size;
  } catch (err) {
    body.destroy();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
