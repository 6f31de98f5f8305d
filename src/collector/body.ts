import { gunzipSync } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { WeirError } from '../errors/catalogue.js';

export interface BodyHeaders {
  contentType: string | undefined;
  contentEncoding: string | undefined;
}

function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/**
 * Turns a request body into JSON: checks the media type, inflates gzip (with the decompressed size
 * capped at `limit`, so a gzip bomb stops at the limit), refuses invalid UTF-8 rather than
 * silently replacing it, and parses. Every failure is a request-level {@link WeirError}.
 *
 * `text/plain` is accepted because browsers send `navigator.sendBeacon` bodies as text to avoid
 * a CORS preflight.
 *
 * @example
 * ```ts
 * decodeJsonBody(Buffer.from('{"a":1}'), { contentType: 'application/json', contentEncoding: undefined }, 1024);
 * // { a: 1 }
 * ```
 */
export function decodeJsonBody(raw: Buffer, headers: BodyHeaders, limit: number): unknown {
  const type = mediaType(headers.contentType);
  if (type !== '' && type !== 'application/json' && type !== 'text/plain' && !type.endsWith('+json')) {
    throw new WeirError('WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE', { type });
  }
  let bytes = raw;
  const encoding = headers.contentEncoding?.trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      // Synchronous on purpose: the output is capped at the body limit (≤ 500 KB by default),
      // which inflates in about a millisecond, and it keeps the libuv pool free for fdatasync.
      bytes = gunzipSync(raw, { maxOutputLength: limit });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new WeirError('WEIR_INGEST_BODY_TOO_LARGE', { limit });
      }
      throw new WeirError('WEIR_INGEST_BAD_GZIP');
    }
  } else if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new WeirError('WEIR_INGEST_UNSUPPORTED_ENCODING', { encoding });
  }
  if (bytes.length === 0) throw new WeirError('WEIR_INGEST_INVALID_BODY', { detail: 'request body is empty' });
  if (!isUtf8(bytes)) throw new WeirError('WEIR_INGEST_INVALID_UTF8');
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WeirError('WEIR_INGEST_MALFORMED_JSON', { detail: shorten((err as Error).message) });
  }
}

function shorten(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
