/**
 * What the S3 and Azure adapters share besides multipart puts: the key prefix inside a bucket or
 * container, the mapping of service failures to catalogue codes, and get streams whose mid-body
 * failures carry those codes too.
 */
import { PassThrough, type Readable } from 'node:stream';
import { WeirError } from '../errors/catalogue.js';
import { validateKey } from './blob-store.js';

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
  const detail = [f.status, f.code, f.message].filter((x) => x !== undefined && x !== '').join(' ');
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
    return new WeirError('WEIR_BLOB_INVALID_KEY', { key, detail: `the ${t.store} store refused the name: ${detail}` }, options);
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
