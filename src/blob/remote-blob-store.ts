/**
 * What the S3 and Azure adapters share: keys under a prefix inside a bucket or container, the
 * port's semantics over a service's primitives (missing is undefined for stat and fine for
 * delete, ranges past the end are empty, listings strip the prefix and skip foreign names), and
 * the mapping of service failures to catalogue codes.
 */
import { PassThrough, Readable } from 'node:stream';
import { WeirError } from '../errors/catalogue.js';
import {
  checkRange,
  isValidKey,
  validateKey,
  type BlobInfo,
  type BlobStore,
  type GetOptions,
  type PutBody,
  type PutOptions,
} from './blob-store.js';

/**
 * A bucket/container prefix as a folder: `''` stays empty, `lake` and `/lake/` become `lake/`.
 * Its segments follow the key rules, so `..` cannot climb out of it.
 */
export function normalisePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (p === '') return '';
  try {
    validateKey(p);
  } catch (err) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `blob store prefix "${p}": ${(err as Error).message}` });
  }
  return `${p}/`;
}

/** A failure as the service client reports it. */
export interface RemoteFailure {
  /** HTTP status, when the service answered. */
  status: number | undefined;
  /** The service's error code (`NoSuchKey`, `BlobNotFound`) or a Node network code (`ECONNREFUSED`). */
  code: string | undefined;
  message: string;
  /** The original error. */
  cause: unknown;
}

/** Where the failure happened, for the message. */
export interface FailureTarget {
  store: 's3' | 'azure';
  container: string;
  key?: string;
}

const NETWORK = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EPIPE', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'TimeoutError', 'RequestTimeout', 'REQUEST_SEND_ERROR',
]);
const THROTTLED = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded',
  'ServerBusy', 'OperationTimedOut', 'InternalError', 'ServiceUnavailable',
]);
const DENIED = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'AllAccessDisabled', 'CredentialsProviderError', 'AuthenticationFailed',
  'AuthorizationFailure', 'AuthorizationPermissionMismatch', 'InsufficientAccountPermissions', 'AccountIsDisabled',
]);
const NO_CONTAINER = new Set(['NoSuchBucket', 'ContainerNotFound', 'ContainerBeingDeleted']);
const BAD_NAME = new Set(['KeyTooLongError', 'InvalidURI', 'InvalidUri', 'InvalidObjectName', 'InvalidResourceName', 'OutOfRangeInput']);

/** True for the AbortError of a caller's signal: passed through, never mapped. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * The catalogue error for a service failure. Auth and missing buckets are decided by code first,
 * because S3 answers some of them with 400 and a HEAD request's 404 carries no code at all.
 */
export function remoteError(f: RemoteFailure, t: FailureTarget): WeirError {
  const key = t.key ?? '';
  const said = [f.status, f.code, f.message].filter((x) => x !== undefined && x !== '').join(' ');
  const detail = t.key === undefined ? said : `${t.key}: ${said}`;
  const code = f.code ?? '';
  const status = f.status ?? 0;
  const options = { cause: f.cause };
  if (NO_CONTAINER.has(code)) return new WeirError('WEIR_BLOB_CONTAINER_NOT_FOUND', { store: t.store, container: t.container }, options);
  if (DENIED.has(code) || status === 401 || status === 403) return new WeirError('WEIR_BLOB_ACCESS_DENIED', { store: t.store, key, detail }, options);
  if (NETWORK.has(code) || THROTTLED.has(code) || status === 408 || status === 429 || status >= 500) {
    return new WeirError('WEIR_BLOB_UNAVAILABLE', { store: t.store, detail }, options);
  }
  if (status === 404) return new WeirError('WEIR_BLOB_NOT_FOUND', { store: t.store, key }, options);
  if (BAD_NAME.has(code) || (status === 400 && code === '' && t.key !== undefined)) {
    return new WeirError('WEIR_BLOB_INVALID_KEY', { key, detail: `the ${t.store} store refused the name: ${said}` }, options);
  }
  return new WeirError('WEIR_BLOB_FAILED', { store: t.store, key, detail }, options);
}

/**
 * A copy of `source` whose errors pass through `map`, so a connection lost mid-body reaches the
 * reader as a catalogue error. Destroying the copy releases the source's connection.
 */
export function mapStreamErrors(source: Readable, map: (err: unknown) => Error): Readable {
  const out = new PassThrough();
  source.on('error', (err) => out.destroy(map(err)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

/** One page of a listing, with full names (prefix included). */
export interface RemotePage {
  items: Array<{ name: string; size: number; lastModified: Date }>;
  /** Where the next page starts; undefined on the last page. */
  next: string | undefined;
}

/**
 * The port over a remote service's primitives. An adapter implements the primitives with full
 * names (prefix included) and says how to read its errors; the rest lives here once.
 */
export abstract class RemoteBlobStore implements BlobStore {
  abstract readonly kind: 's3' | 'azure';

  constructor(
    /** A folder (`lake/`) or empty, from {@link normalisePrefix}. */
    protected readonly prefix: string,
    /** The bucket or container, for messages. */
    protected readonly container: string,
  ) {}

  /** Uploads the body under name, visible only when complete; returns the size. */
  protected abstract upload(name: string, body: PutBody, opts: PutOptions, failure: (err: unknown) => Error): Promise<number>;
  /** The object's bytes, or of a non-empty range; undefined for an empty body. */
  protected abstract download(name: string, range: { offset: number; length?: number } | undefined, signal?: AbortSignal): Promise<Readable | undefined>;
  protected abstract head(name: string): Promise<{ size: number; lastModified: Date }>;
  /** Deletes name; may fail with a 404 for a missing object. */
  protected abstract remove(name: string): Promise<void>;
  protected abstract listPage(namePrefix: string, start: string | undefined): Promise<RemotePage>;
  /** The status, code and message of a service error. */
  protected abstract describe(err: unknown): Omit<RemoteFailure, 'cause'>;

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ key: string; size: number }> {
    const size = await this.upload(this.nameOf(key), body, opts, (err) => this.failure(err, key));
    return { key, size };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const name = this.nameOf(key);
    const range = checkRange(opts.range);
    if (range === 'empty') {
      if (!(await this.stat(key))) throw new WeirError('WEIR_BLOB_NOT_FOUND', { store: this.kind, key });
      return Readable.from([]);
    }
    try {
      const body = await this.download(name, range, opts.signal);
      return body ? mapStreamErrors(body, (err) => this.failure(err, key)) : Readable.from([]);
    } catch (err) {
      // A range starting at or past the end of an existing object.
      if (this.describe(err).status === 416) return Readable.from([]);
      throw this.failure(err, key);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const name = this.nameOf(key);
    try {
      return { key, ...(await this.head(name)) };
    } catch (err) {
      const e = this.failure(err, key);
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    let start: string | undefined;
    do {
      let page: RemotePage;
      try {
        page = await this.listPage(this.prefix + prefix, start);
      } catch (err) {
        throw this.failure(err, undefined);
      }
      for (const item of page.items) {
        const key = item.name.slice(this.prefix.length);
        // Folder markers (`dir/`) and names Weir would refuse are someone else's objects.
        if (isValidKey(key)) yield { key, size: item.size, lastModified: item.lastModified };
      }
      start = page.next;
    } while (start);
  }

  async delete(key: string): Promise<void> {
    const name = this.nameOf(key);
    try {
      await this.remove(name);
    } catch (err) {
      const e = this.failure(err, key);
      if (!isNotFound(e)) throw e;
    }
  }

  localPath(key: string): string | undefined {
    validateKey(key);
    return undefined;
  }

  async close(): Promise<void> {}

  private nameOf(key: string): string {
    return this.prefix + validateKey(key);
  }

  /** The catalogue error for a failure; the caller's AbortError and Weir's own errors pass as they are. */
  protected failure(err: unknown, key: string | undefined): Error {
    if (isAbortError(err) || err instanceof WeirError) return err as Error;
    return remoteError({ ...this.describe(err), cause: err }, { store: this.kind, container: this.container, ...(key !== undefined ? { key } : {}) });
  }
}

function isNotFound(err: Error): boolean {
  return err instanceof WeirError && err.code === 'WEIR_BLOB_NOT_FOUND';
}
