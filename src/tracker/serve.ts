import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WeirError } from '../errors/catalogue.js';

/**
 * The built browser tracker. `scripts/build-tracker.mjs` writes it to `dist/public/weir.js`, which
 * is this path from the compiled module at `dist/src/tracker/serve.js`.
 */
export const TRACKER_FILE = fileURLToPath(new URL('../../public/weir.js', import.meta.url));

/**
 * Suggested `Cache-Control` for `/weir.js`: browsers and CDNs keep it for an hour, then revalidate
 * with the ETag, so a new version reaches every site within the hour without a versioned URL.
 */
export const TRACKER_CACHE_CONTROL = 'public, max-age=3600';

/** A tracker script and its strong ETag. */
export interface TrackerAsset {
  script: Buffer;
  etag: string;
}

/**
 * Reads a built tracker from disk; a missing file is `WEIR_TRACKER_NOT_BUILT`.
 *
 * @example
 * ```ts
 * const { script, etag } = loadTracker(TRACKER_FILE);
 * ```
 */
export function loadTracker(file: string): TrackerAsset {
  let script: Buffer;
  try {
    script = readFileSync(file);
  } catch (err) {
    throw new WeirError('WEIR_TRACKER_NOT_BUILT', { path: file, detail: (err as NodeJS.ErrnoException).code ?? String(err) }, { cause: err });
  }
  const etag = `"${createHash('sha256').update(script).digest('base64url').slice(0, 27)}"`;
  return { script, etag };
}

let loaded: TrackerAsset | undefined;

// The file changes only with a new build, which comes with a restart: read it once.
function asset(): TrackerAsset {
  loaded ??= loadTracker(TRACKER_FILE);
  return loaded;
}

/**
 * Serves the tracker at `/weir.js` with an ETag (304 when unchanged) and an hour of caching.
 *
 * @example
 * ```ts
 * trackerRoute(app); // GET /weir.js
 * ```
 */
export function trackerRoute(app: FastifyInstance): void {
  app.get('/weir.js', async (req, reply) => {
    if (req.headers['if-none-match'] === trackerEtag()) return reply.code(304).send();
    return reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', TRACKER_CACHE_CONTROL)
      .header('etag', trackerEtag())
      .send(trackerScript());
  });
}

/** The bytes of `dist/public/weir.js`, read once per process. */
export function trackerScript(): Buffer {
  return asset().script;
}

/** The strong ETag (quoted, from the script's SHA-256) of {@link trackerScript}. */
export function trackerEtag(): string {
  return asset().etag;
}

export interface SnippetOptions {
  /** Where Weir answers: `https://weir.example.com`, or a bare host name, which means https. */
  host: string;
  writeKey: string;
  /** Store nothing in the browser; the collector derives a daily visitor id. */
  cookieless?: boolean;
  /** Send nothing for visitors with Do Not Track or Global Privacy Control on. */
  respectDnt?: boolean;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' };
const escapeAttribute = (value: string): string => value.replace(/[&"<>]/g, (c) => ESCAPES[c] ?? c);

/**
 * The `<script>` tag users paste into their pages. The tracker sends to the origin it was loaded
 * from, so only the origin of `host` is used.
 *
 * @example
 * ```ts
 * trackerSnippet({ host: 'weir.example.com', writeKey: 'wk_1', cookieless: true });
 * // '<script defer src="https://weir.example.com/weir.js" data-write-key="wk_1" data-cookieless></script>'
 * ```
 */
export function trackerSnippet(options: SnippetOptions): string {
  const base = /^https?:\/\//i.test(options.host) ? options.host : `https://${options.host}`;
  const src = new URL('/weir.js', new URL(base).origin).href;
  let attributes = ` data-write-key="${escapeAttribute(options.writeKey)}"`;
  if (options.cookieless) attributes += ' data-cookieless';
  if (options.respectDnt) attributes += ' data-respect-dnt';
  return `<script defer src="${escapeAttribute(src)}"${attributes}></script>`;
}
