import { fillMissing, isPlainObject, type Fields } from './fields.js';
import { LruCache } from './lru.js';
import { readPage, type PageFacts } from './page.js';

/** An ad platform's click id, found in the landing page URL. */
export interface ClickId {
  readonly type: string;
  readonly id: string;
}

/** `context.campaign` in Segment's naming: `name` is `utm_campaign`. */
export interface Campaign {
  readonly source?: string;
  readonly medium?: string;
  readonly name?: string;
  readonly term?: string;
  readonly content?: string;
  readonly id?: string;
  readonly clickId?: ClickId;
}

type CampaignField = Exclude<keyof Campaign, 'clickId'>;

const UTM = new Map<string, CampaignField>([
  ['utm_source', 'source'],
  ['utm_medium', 'medium'],
  ['utm_campaign', 'name'],
  ['utm_term', 'term'],
  ['utm_content', 'content'],
  ['utm_id', 'id'],
]);

// In priority order when a URL carries several. fbclid is added to every outbound Facebook link, paid or not, hence
// 'social' rather than 'cpc'.
const CLICK_IDS: ReadonlyArray<readonly [param: string, source: string, medium: string]> = [
  ['gclid', 'google', 'cpc'],
  ['gbraid', 'google', 'cpc'],
  ['wbraid', 'google', 'cpc'],
  ['dclid', 'google', 'display'],
  ['msclkid', 'bing', 'cpc'],
  ['fbclid', 'facebook', 'social'],
  ['ttclid', 'tiktok', 'cpc'],
  ['twclid', 'twitter', 'cpc'],
  ['li_fat_id', 'linkedin', 'cpc'],
  ['yclid', 'yandex', 'cpc'],
];
const CLICK_RANK = new Map(CLICK_IDS.map(([param], i) => [param, i]));
const FIELD_ORDER: readonly CampaignField[] = ['source', 'medium', 'name', 'term', 'content', 'id'];

function decode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function parse(query: string): Readonly<Campaign> | null {
  const utm: Partial<Record<CampaignField, string>> = {};
  let found = false;
  let click: { rank: number; id: string } | undefined;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = decode(pair.slice(0, eq)).toLowerCase();
    const field = UTM.get(key);
    const rank = field === undefined ? CLICK_RANK.get(key) : undefined;
    if (field === undefined && rank === undefined) continue;
    const value = decode(pair.slice(eq + 1)).trim();
    if (value === '') continue;
    if (field !== undefined) {
      if (utm[field] === undefined) {
        utm[field] = value;
        found = true;
      }
    } else if (rank !== undefined && (click === undefined || rank < click.rank)) {
      click = { rank, id: value };
    }
  }
  if (!found && click === undefined) return null;
  const campaign: Record<string, unknown> = {};
  const clickId = click === undefined ? undefined : CLICK_IDS[click.rank];
  // Implied only when the UTMs name neither, so a source and a medium never come from two places.
  const implied = utm.source === undefined && utm.medium === undefined ? clickId : undefined;
  for (const field of FIELD_ORDER) {
    const v = utm[field] ?? (field === 'source' ? implied?.[1] : field === 'medium' ? implied?.[2] : undefined);
    if (v !== undefined) campaign[field] = v;
  }
  if (click !== undefined && clickId !== undefined) campaign.clickId = Object.freeze({ type: clickId[0], id: click.id });
  return Object.freeze(campaign) as Readonly<Campaign>;
}

const cache = new LruCache<Readonly<Campaign> | null>({ capacity: 4096, maxKeyLength: 2048 });

/**
 * The campaign a query string carries: UTM parameters, and the first known ad click id with the
 * source and medium it implies when there is neither `utm_source` nor `utm_medium`. Null when there is neither. Results
 * are cached and frozen (events share them).
 *
 * @example
 * ```ts
 * parseCampaign('utm_source=newsletter&utm_medium=email&utm_campaign=spring');
 * // { source: 'newsletter', medium: 'email', name: 'spring' }
 * parseCampaign('gclid=Cj0KCQ');
 * // { source: 'google', medium: 'cpc', clickId: { type: 'gclid', id: 'Cj0KCQ' } }
 * ```
 */
export function parseCampaign(query: string): Readonly<Campaign> | null {
  return query === '' ? null : cache.get(query, parse);
}

/** The page's query string: from the page URL, or else from `search` ('?' stripped). */
function pageQuery(page: PageFacts): string | undefined {
  if (page.parts !== null) return page.parts.query;
  const search = page.search;
  return search !== undefined && search.startsWith('?') ? search.slice(1) : search;
}

/**
 * Sets `context.campaign` from the page URL's UTM parameters and click ids, keeping every field
 * the client sent (analytics.js sends its own `context.campaign`).
 *
 * @example
 * ```ts
 * const context = { page: { url: 'https://example.com/?utm_source=news&utm_medium=email&fbclid=IwAR2' } };
 * enrichCampaign({ type: 'track' }, context);
 * context.campaign; // { source: 'news', medium: 'email', clickId: { type: 'fbclid', id: 'IwAR2' } }
 * ```
 */
export function enrichCampaign(event: Fields, context: Fields, page: PageFacts = readPage(event, context)): void {
  const query = pageQuery(page);
  if (query === undefined) return;
  const campaign = parseCampaign(query);
  if (campaign !== null) fillMissing(context, 'campaign', campaign);
}

/** The campaign medium of an event: the client's `context.campaign.medium`, else the page URL's. */
export function campaignMedium(context: Fields, page: PageFacts): string | undefined {
  const client = context.campaign;
  if (isPlainObject(client) && typeof client.medium === 'string') return client.medium;
  const query = pageQuery(page);
  return query === undefined ? undefined : parseCampaign(query)?.medium;
}
