import { WeirError, type ErrorParams } from '../errors/catalogue.js';
import { detectBotInContext, flagBot } from './bot.js';
import { DESCRIPTIVE_STEPS, describeInto, overlapsDescriptiveFields, type DescriptiveFlags, type DescriptiveStep } from './describe.js';
import { copyFields, isPlainObject, type Fields } from './fields.js';
import { enrichLocation, type GeoIpReader } from './privacy/geoip.js';
import { applyIpMode, type IpMode } from './privacy/ip.js';
import { createPseudonymiser } from './privacy/pseudonymise.js';

export { openGeoIp, type GeoIpReader } from './privacy/geoip.js';

/** Per-source enrichment and privacy settings. */
export interface EnrichSettings {
  userAgent: boolean;
  referrer: boolean;
  campaign: boolean;
  pageUrl: boolean;
  /** Keep a bot's event flagged (`context.bot`), or fail it with `WEIR_EVENT_BOT`. */
  bots: 'keep' | 'fail';
  ip: IpMode;
  /** Look up `context.location`; only when a reader is supplied. */
  geoip: boolean;
  /** Dotted field paths replaced by keyed hashes, e.g. `userId`, `traits.email`. */
  pseudonymise: string[];
}

/** Every enrichment on, bots kept and flagged, addresses truncated, nothing pseudonymised. */
export const DEFAULT_ENRICH_SETTINGS: EnrichSettings = Object.freeze({
  userAgent: true,
  referrer: true,
  campaign: true,
  pageUrl: true,
  bots: 'keep',
  ip: 'truncate',
  geoip: true,
  pseudonymise: Object.freeze([]) as unknown as string[],
}) as EnrichSettings;

export type EnrichResult = { ok: true; event: Record<string, unknown> } | { ok: false; code: 'WEIR_EVENT_BOT'; params: ErrorParams };

/**
 * Enriches one normalised event in place (its `context` is replaced by an enriched copy).
 * `deferred`, when present, lists the descriptive steps this enricher left out: the collector
 * writes them into the log record, and the log's readers run them as they decode it
 * (`decodeLogRecord`).
 */
export type Enricher = ((event: Record<string, unknown>) => EnrichResult) & { readonly deferred?: readonly DescriptiveStep[] };

const IP_MODES: ReadonlySet<string> = new Set(['keep', 'truncate', 'drop']);

function checkSettings(s: EnrichSettings): void {
  const bad = (detail: string) => new WeirError('WEIR_CONFIG_INVALID', { detail });
  if (s.bots !== 'keep' && s.bots !== 'fail') throw bad(`enrichment bots must be keep or fail, got ${String(s.bots)}`);
  if (!IP_MODES.has(s.ip)) throw bad(`enrichment ip must be keep, truncate or drop, got ${String(s.ip)}`);
  if (!Array.isArray(s.pseudonymise) || s.pseudonymise.some((p) => typeof p !== 'string')) {
    throw bad('enrichment pseudonymise must be a list of field paths');
  }
}

function unnamedBot(context: Fields | undefined): string {
  const ua = context?.userAgent;
  return typeof ua === 'string' && ua.trim() === '' ? 'empty user agent' : 'unnamed';
}

function hasKeys(o: Fields): boolean {
  for (const _ in o) return true;
  return false;
}

const NO_STEPS: DescriptiveFlags = Object.freeze({ userAgent: false, pageUrl: false, campaign: false, referrer: false });

/**
 * Composes the enrichment and privacy steps for one source's settings. Runs once per event,
 * after normalisation, so each step caches its per-string work (see `bench/enrich.ts` for the cost).
 *
 * Order matters: the bot check comes first and changes nothing, so a failed bot event is stored as
 * the client sent it; the GeoIP lookup sees the full address before the ip mode truncates or drops
 * it; pseudonymisation comes last. The event's `context` is replaced by a shallow copy that the
 * steps fill in; objects nested in it are never written (they may be shared with other events of
 * a batch), and enriched values may be frozen objects shared between events.
 *
 * With `defer`, the collector's acknowledgement path keeps only what must happen before anything is
 * stored (the bot check, GeoIP from the full address, the ip mode, pseudonymisation) and the
 * descriptive steps (user agent, page URL, campaign, referrer) are listed in `deferred` for the
 * log's readers: serialising their output made ingest ~25 % slower, far more than the steps cost
 * (BENCHMARKS.md, bench:enrich). Readers get the same event either way. A source that
 * pseudonymises a field those steps read or write is not deferred, so hashing still comes last.
 *
 * @example
 * ```ts
 * const enrich = createEnricher({ settings: { ...DEFAULT_ENRICH_SETTINGS, bots: 'fail' }, salt });
 * enrich({ type: 'page', anonymousId: 'a', context: { userAgent: 'curl/8.5.0' } });
 * // { ok: false, code: 'WEIR_EVENT_BOT', params: { name: 'curl' } }
 * enrich({ type: 'page', anonymousId: 'a', context: { ip: '203.0.113.9', page: { url: 'https://example.com/?utm_source=x' } } });
 * // { ok: true, event: { ..., context: { ip: '203.0.113.0', page: { ..., host: 'example.com' }, campaign: { source: 'x' }, referrer: { type: 'direct' } } } }
 * const collect = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt, defer: true });
 * collect.deferred; // ['userAgent', 'pageUrl', 'campaign', 'referrer']: encodeAcceptedRecord(id, event, json, collect.deferred)
 * ```
 */
export function createEnricher(opts: { settings: EnrichSettings; geoip?: GeoIpReader; salt: Buffer; defer?: boolean }): Enricher {
  const s = opts.settings;
  checkSettings(s);
  const { ip } = s;
  const failBots = s.bots === 'fail';
  const geoip = s.geoip ? opts.geoip : undefined;
  const pseudonymise = s.pseudonymise.length > 0 ? createPseudonymiser({ paths: [...s.pseudonymise], salt: opts.salt }) : undefined;
  const steps: DescriptiveFlags = { userAgent: s.userAgent, pageUrl: s.pageUrl, campaign: s.campaign, referrer: s.referrer };
  const deferred =
    opts.defer === true && !s.pseudonymise.some(overlapsDescriptiveFields) ? DESCRIPTIVE_STEPS.filter((step) => steps[step]) : [];
  const here = deferred.length > 0 ? NO_STEPS : steps;

  const enrich = (event: Record<string, unknown>): EnrichResult => {
    const own = event.context;
    // validateEvent refuses a context that is not an object; if one gets here anyway, it is left alone.
    if (own === undefined || own === null || isPlainObject(own)) {
      const clientContext = own ?? undefined;
      const bot = detectBotInContext(clientContext);
      if (bot.bot && failBots) return { ok: false, code: 'WEIR_EVENT_BOT', params: { name: bot.name ?? unnamedBot(clientContext) } };
      const context: Fields = clientContext === undefined ? {} : copyFields(clientContext);
      flagBot(context, bot);
      describeInto(event, context, here);
      if (geoip !== undefined) enrichLocation(context, geoip);
      if (ip !== 'keep') applyIpMode(context, ip);
      if (clientContext !== undefined || hasKeys(context)) event.context = context;
    }
    pseudonymise?.(event);
    return { ok: true, event };
  };
  return deferred.length > 0 ? Object.assign(enrich, { deferred: Object.freeze(deferred) }) : enrich;
}
