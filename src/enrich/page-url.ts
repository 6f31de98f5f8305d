import { copyFields, isPlainObject, type Fields } from './fields.js';
import { readPage, type PageFacts } from './page.js';

/**
 * Splits the page URL (`context.page.url`, or `properties.url` of a page call) into
 * `context.page.host`, `context.page.path` and `context.page.query` (the raw query string without
 * '?'), so the warehouse can group by host and path without string functions. Fields the client
 * sent (analytics.js sends `path` and `search`) are kept; a malformed URL, or a `context.page`
 * that is not an object, is left alone.
 *
 * @example
 * ```ts
 * const event = { type: 'page', properties: { url: 'https://example.com/pricing?plan=pro' } };
 * const context = {};
 * enrichPageUrl(event, context);
 * context; // { page: { host: 'example.com', path: '/pricing', query: 'plan=pro' } }
 * ```
 */
export function enrichPageUrl(event: Fields, context: Fields, facts: PageFacts = readPage(event, context)): void {
  const parts = facts.parts;
  if (parts === null) return;
  const client = context.page;
  if (client !== undefined && !isPlainObject(client)) return;
  const addHost = parts.host !== '' && client?.host === undefined;
  const addPath = client?.path === undefined;
  const addQuery = client?.query === undefined;
  if (!addHost && !addPath && !addQuery) return;
  const page = client === undefined ? {} : copyFields(client);
  if (addHost) page.host = parts.host;
  if (addPath) page.path = parts.path;
  if (addQuery) page.query = parts.query;
  context.page = page;
}
