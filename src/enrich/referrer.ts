import { campaignMedium } from './campaign.js';
import type { Fields } from './fields.js';
import { LruCache } from './lru.js';
import { readPage, type PageFacts } from './page.js';
import { parseUrlParts } from './url.js';

export type ReferrerType = 'search' | 'social' | 'email' | 'internal' | 'direct' | 'other';

/** `context.referrer` as Weir sets it. */
export interface ReferrerInfo {
  readonly type: ReferrerType;
  /** The search engine, network or mail service, when the host is a known one. */
  readonly name?: string;
  /** The referrer's host (for app referrers, the Android package). */
  readonly host?: string;
}

type Known = readonly [type: ReferrerType, name: string];

const SEARCH = (name: string): Known => ['search', name];
const SOCIAL = (name: string): Known => ['social', name];
const EMAIL = (name: string): Known => ['email', name];

// Matched on the host and each of its parent domains, so l.facebook.com and lm.facebook.com
// match facebook.com. Longest first: mail.yahoo.com is mail, yahoo.com is search.
const HOSTS = new Map<string, Known>([
  ['bing.com', SEARCH('Bing')],
  ['duckduckgo.com', SEARCH('DuckDuckGo')],
  ['ya.ru', SEARCH('Yandex')],
  ['baidu.com', SEARCH('Baidu')],
  ['ecosia.org', SEARCH('Ecosia')],
  ['search.brave.com', SEARCH('Brave')],
  ['startpage.com', SEARCH('Startpage')],
  ['qwant.com', SEARCH('Qwant')],
  ['naver.com', SEARCH('Naver')],
  ['seznam.cz', SEARCH('Seznam')],
  ['facebook.com', SOCIAL('Facebook')],
  ['fb.com', SOCIAL('Facebook')],
  ['fb.me', SOCIAL('Facebook')],
  ['messenger.com', SOCIAL('Facebook')],
  ['twitter.com', SOCIAL('Twitter')],
  ['x.com', SOCIAL('Twitter')],
  ['t.co', SOCIAL('Twitter')],
  ['linkedin.com', SOCIAL('LinkedIn')],
  ['lnkd.in', SOCIAL('LinkedIn')],
  ['reddit.com', SOCIAL('Reddit')],
  ['redd.it', SOCIAL('Reddit')],
  ['instagram.com', SOCIAL('Instagram')],
  ['youtube.com', SOCIAL('YouTube')],
  ['youtu.be', SOCIAL('YouTube')],
  ['pin.it', SOCIAL('Pinterest')],
  ['tiktok.com', SOCIAL('TikTok')],
  ['news.ycombinator.com', SOCIAL('Hacker News')],
  ['threads.net', SOCIAL('Threads')],
  ['threads.com', SOCIAL('Threads')],
  ['bsky.app', SOCIAL('Bluesky')],
  ['whatsapp.com', SOCIAL('WhatsApp')],
  ['wa.me', SOCIAL('WhatsApp')],
  ['t.me', SOCIAL('Telegram')],
  ['telegram.org', SOCIAL('Telegram')],
  ['vk.com', SOCIAL('VK')],
  ['quora.com', SOCIAL('Quora')],
  ['mail.google.com', EMAIL('Gmail')],
  ['outlook.live.com', EMAIL('Outlook')],
  ['outlook.office.com', EMAIL('Outlook')],
  ['outlook.office365.com', EMAIL('Outlook')],
  ['mail.yahoo.com', EMAIL('Yahoo Mail')],
  ['mail.proton.me', EMAIL('Proton Mail')],
  ['mail.aol.com', EMAIL('AOL Mail')],
  ['mail.yandex.ru', EMAIL('Yandex Mail')],
  ['mail.yandex.com', EMAIL('Yandex Mail')],
]);

// Brands with many country domains (google.co.uk, yahoo.co.jp, pinterest.de): matched on the
// bare, www., m. or search. host only, so docs.google.com is not a search.
const BRANDS = new Map<string, Known>([
  ['google', SEARCH('Google')],
  ['yahoo', SEARCH('Yahoo')],
  ['yandex', SEARCH('Yandex')],
  ['pinterest', SOCIAL('Pinterest')],
]);
const BRAND_PREFIXES: ReadonlySet<string> = new Set(['www', 'm', 'search']);
// Second-level labels of country domains: co.uk, com.au, ne.jp, gob.mx, ...
const COUNTRY_SECOND_LEVEL: ReadonlySet<string> = new Set(['co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'ne', 'or', 'go', 'gob', 'nic']);

// Android apps send android-app://<package>/ as the referrer.
const APPS = new Map<string, Known>([
  ['com.google.android.googlequicksearchbox', SEARCH('Google')],
  ['com.google.android.gm', EMAIL('Gmail')],
  ['com.microsoft.office.outlook', EMAIL('Outlook')],
  ['com.facebook.katana', SOCIAL('Facebook')],
  ['com.facebook.orca', SOCIAL('Facebook')],
  ['com.instagram.android', SOCIAL('Instagram')],
  ['com.twitter.android', SOCIAL('Twitter')],
  ['com.linkedin.android', SOCIAL('LinkedIn')],
  ['com.reddit.frontpage', SOCIAL('Reddit')],
  ['com.google.android.youtube', SOCIAL('YouTube')],
]);

function isCountryDomain(labels: readonly string[], from: number): boolean {
  const rest = labels.length - from;
  if (rest === 1) return /^[a-z]{2,}$/.test(labels[from]!);
  return rest === 2 && COUNTRY_SECOND_LEVEL.has(labels[from]!) && /^[a-z]{2}$/.test(labels[from + 1]!);
}

function knownHost(host: string): Known | undefined {
  const labels = host.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const exact = HOSTS.get(i === 0 ? host : labels.slice(i).join('.'));
    if (exact !== undefined) return exact;
    const brand = BRANDS.get(labels[i]!);
    if (brand !== undefined && (i === 0 || (i === 1 && BRAND_PREFIXES.has(labels[0]!))) && isCountryDomain(labels, i + 1)) {
      return brand;
    }
  }
  // Webmail of a company or provider not in the table.
  if (labels.length > 2 && (labels[0] === 'mail' || labels[0] === 'webmail')) return ['email', ''];
  return undefined;
}

interface ReferrerFacts {
  host: string;
  /** The host without a leading "www.". */
  bare: string;
  external: ReferrerInfo;
  internal: ReferrerInfo;
}

const DIRECT: ReferrerInfo = Object.freeze({ type: 'direct' });
const OTHER: ReferrerInfo = Object.freeze({ type: 'other' });
const NO_REFERRER: ReferrerFacts = { host: '', bare: '', external: DIRECT, internal: DIRECT };
const HOST_LIKE = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?(?:[/?#]|$)/;

function info(type: ReferrerType, host: string, name?: string): ReferrerInfo {
  return Object.freeze(name ? { type, name, host } : { type, host });
}

function lookup(referrer: string): ReferrerFacts | null {
  const trimmed = referrer.trim();
  if (trimmed === '' || trimmed.startsWith('about:')) return NO_REFERRER;
  if (trimmed.startsWith('android-app://')) {
    const parts = parseUrlParts(trimmed);
    if (parts === null || parts.host === '') return null;
    const known = APPS.get(parts.host);
    const external = known ? info(known[0], parts.host, known[1]) : info('other', parts.host);
    return { host: parts.host, bare: parts.host, external, internal: external };
  }
  // Some clients send the referrer without a scheme ("www.google.com/").
  const parts = parseUrlParts(trimmed) ?? (HOST_LIKE.test(trimmed) ? parseUrlParts(`http://${trimmed}`) : null);
  if (parts === null || parts.host === '') return null;
  const { host } = parts;
  const known = knownHost(host);
  return {
    host,
    bare: host.startsWith('www.') ? host.slice(4) : host,
    external: known ? info(known[0], host, known[1]) : info('other', host),
    internal: info('internal', host),
  };
}

const cache = new LruCache<ReferrerFacts | null>({ capacity: 2048, maxKeyLength: 2048 });

function sameSite(f: ReferrerFacts, pageHost: string): boolean {
  if (f.host === pageHost || f.bare === pageHost) return true;
  return pageHost.length === f.bare.length + 4 && pageHost.startsWith('www.') && pageHost.endsWith(f.bare);
}

/**
 * Classifies a referrer URL against the host of the page it led to: `internal` when both are the
 * same site (ignoring "www."), `direct` when there is no referrer, else the kind of the
 * referrer's host from a built-in table of search engines, social networks and webmail, or
 * `other`. Results are cached and frozen (events share them). The real-time dashboard uses it
 * too, with {@link dashboardReferrerClass}.
 *
 * @example
 * ```ts
 * classifyReferrer('https://www.google.co.uk/', 'shop.example.com'); // { type: 'search', name: 'Google', host: 'www.google.co.uk' }
 * classifyReferrer('https://lm.facebook.com/l.php?u=x', 'example.com'); // { type: 'social', name: 'Facebook', host: 'lm.facebook.com' }
 * classifyReferrer('https://example.com/blog', 'www.example.com'); // { type: 'internal', host: 'example.com' }
 * classifyReferrer('', 'example.com'); // { type: 'direct' }
 * ```
 */
export function classifyReferrer(referrerUrl: string | null | undefined, pageHost: string | undefined): ReferrerInfo {
  if (referrerUrl === undefined || referrerUrl === null || referrerUrl === '') return DIRECT;
  const facts = cache.get(referrerUrl, lookup);
  if (facts === null) return OTHER;
  return pageHost !== undefined && pageHost !== '' && sameSite(facts, pageHost) ? facts.internal : facts.external;
}

/** The real-time dashboard's referrer classes: email counts as other there. */
export type DashboardReferrerClass = 'search' | 'social' | 'internal' | 'direct' | 'other';

export function dashboardReferrerClass(type: ReferrerType): DashboardReferrerClass {
  return type === 'email' ? 'other' : type;
}

/**
 * Sets `context.referrer` from `context.page.referrer` (or `properties.referrer` of a page call)
 * and the page URL. A landing page tagged `utm_medium=email` makes an outside or empty referrer
 * `email`, since mail clients often send none. Events with no page data are left alone, and so is
 * a `context.referrer` the client sent (Segment's spec gives it its own meaning: the referral
 * that installed or opened an app).
 *
 * @example
 * ```ts
 * const context = { page: { url: 'https://example.com/', referrer: 'https://t.co/abc' } };
 * enrichReferrer({ type: 'page' }, context);
 * context.referrer; // { type: 'social', name: 'Twitter', host: 't.co' }
 * ```
 */
export function enrichReferrer(event: Fields, context: Fields, page: PageFacts = readPage(event, context)): void {
  if (context.referrer !== undefined) return;
  if (page.referrer === undefined && page.url === undefined) return;
  const found = classifyReferrer(page.referrer, page.parts?.host);
  if (found.type !== 'internal' && found.type !== 'email' && campaignMedium(context, page)?.toLowerCase() === 'email') {
    context.referrer = found.host === undefined ? { type: 'email' } : { type: 'email', host: found.host };
    return;
  }
  context.referrer = found;
}
