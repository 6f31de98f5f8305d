import { isPlainObject, type Fields } from './fields.js';
import { splitUrl, type UrlParts } from './url.js';

/**
 * An event's page data, read once per event and shared by the page URL, campaign and referrer
 * steps: `context.page.url`, `.referrer` and `.search`, each falling back, for page calls, to
 * `properties` (server-side libraries send page data only there).
 */
export interface PageFacts {
  readonly url: string | undefined;
  readonly referrer: string | undefined;
  readonly search: string | undefined;
  /** The page URL split, or null when there is none or it is malformed. */
  readonly parts: UrlParts | null;
}

function stringOr(v: unknown, fallback: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof fallback === 'string' ? fallback : undefined;
}

/**
 * Reads the page data of an event (see {@link PageFacts}).
 *
 * @example
 * ```ts
 * readPage({ type: 'page', properties: { url: 'https://example.com/a?x=1' } }, {});
 * // { url: 'https://example.com/a?x=1', referrer: undefined, search: undefined, parts: { host: 'example.com', path: '/a', query: 'x=1' } }
 * ```
 */
export function readPage(event: Fields, context: Fields): PageFacts {
  const page = isPlainObject(context.page) ? context.page : undefined;
  const properties = event.type === 'page' && isPlainObject(event.properties) ? event.properties : undefined;
  const url = stringOr(page?.url, properties?.url);
  return {
    url,
    referrer: stringOr(page?.referrer, properties?.referrer),
    search: stringOr(page?.search, properties?.search),
    parts: url === undefined ? null : splitUrl(url),
  };
}
