import { LruCache } from './lru.js';

/** The parts of an absolute URL the enrichment steps use. */
export interface UrlParts {
  /** Lower-case host name without user info, port or trailing dot; '' for URLs like `file:///x`. */
  readonly host: string;
  /** The path as sent (still percent-encoded), '/' when empty. */
  readonly path: string;
  /** The raw query string without '?', '' when there is none. */
  readonly query: string;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
// Characters that cannot appear in a host, so the URL is malformed (or an attack on a log viewer).
const BAD_HOST = /[\s\x00-\x1f\x7f<>"'`{}|\\^%/?#@[\]]/;
const IPV6_HOST = /^\[[0-9A-Fa-f:.]+\]$/;
const PORT = /^\d{0,5}$/;

/**
 * Splits an absolute URL with a few `indexOf`s instead of `new URL` (about 0.5 µs each), and keeps
 * the host as sent rather than punycode-encoded. Returns null for anything that is not an absolute
 * URL with a plausible host; never throws. Uncached: see {@link splitUrl}.
 */
export function parseUrlParts(url: string): UrlParts | null {
  const scheme = SCHEME.exec(url);
  if (scheme === null) return null;
  const start = scheme[0].length;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) break;
    end++;
  }
  let authority = url.slice(start, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let host: string;
  let port: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    host = authority.slice(0, close + 1);
    if (!IPV6_HOST.test(host)) return null;
    port = authority.slice(close + 1);
    if (port !== '' && !port.startsWith(':')) return null;
    port = port.slice(1);
  } else {
    const colon = authority.indexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    port = colon < 0 ? '' : authority.slice(colon + 1);
    if (BAD_HOST.test(host)) return null;
  }
  if (!PORT.test(port)) return null;
  host = host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);

  const hash = url.indexOf('#', end);
  const stop = hash < 0 ? url.length : hash;
  const q = url.indexOf('?', end);
  const hasQuery = q >= 0 && q < stop;
  const path = url.slice(end, hasQuery ? q : stop);
  return Object.freeze({ host, path: path === '' ? '/' : path, query: hasQuery ? url.slice(q + 1, stop) : '' });
}

// A site has few distinct page URLs next to its traffic; the cache keeps the split (and, because
// the cached `query` is one string object, makes the campaign lookup keyed by it cheap).
const cache = new LruCache<UrlParts | null>({ capacity: 4096, maxKeyLength: 2048 });

/**
 * Splits an absolute URL into host, path and query, from a bounded cache. Malformed URLs give null.
 *
 * @example
 * ```ts
 * splitUrl('https://Shop.example.com:8443/p/1?utm_source=news#top');
 * // { host: 'shop.example.com', path: '/p/1', query: 'utm_source=news' }
 * splitUrl('not a url'); // null
 * ```
 */
export function splitUrl(url: string): UrlParts | null {
  return cache.get(url, parseUrlParts);
}
