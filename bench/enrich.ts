/**
 * `npm run bench:enrich`: CPU cost of the enrichment and privacy steps per event, in one process,
 * on one core, for a realistic mix: a few dozen distinct user agents (5 % bots), 30 referrers, 200
 * page paths of which a third carry UTM parameters and a few percent a unique ad click id, 2,000
 * visitors (15 % IPv6), events of many visitors interleaved as analytics.js sends them (one event
 * per request, so consecutive events rarely share a user agent).
 *
 * Events are parsed from JSON in chunks of 200 just before they are enriched, so every string is
 * fresh (its hash not yet computed) and in cache, as on the collector's hot path. Only the steps
 * are timed, in CPU time (process.cpuUsage, so other processes on the machine do not count),
 * less the cost of timing an empty loop; median of 3 passes. Each step row runs that step alone on
 * a context already copied; "enricher" rows run the whole enricher (context copy included).
 *
 * Then, when wrk is installed, ingest over HTTP with enrichment on and off (bench/ingest-load.ts:
 * `weir collector`, the collector role alone, wrk posting 20-event batches over 128 connections), alternating
 * on and off so both see the same load from the rest of the machine; the median of the runs of each.
 *
 * Options: `--json <file>` also writes the figures as bench/report.ts's JSON report (what
 * `npm run bench` collects).
 * Env: BENCH_EVENTS (default 200000 per pass), BENCH_ONLY (run only rows whose name contains it),
 * BENCH_INGEST_RUNS (runs of each of on and off, default 3; 0 skips ingest), BENCH_SECONDS (per
 * run, default 10), BENCH_SIZE=quick (1 run of 5 s each).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectBotInContext, flagBot } from '../src/enrich/bot.js';
import { enrichCampaign } from '../src/enrich/campaign.js';
import { copyFields } from '../src/enrich/fields.js';
import { createEnricher, DEFAULT_ENRICH_SETTINGS, type Enricher } from '../src/enrich/enricher.js';
import { enrichPageUrl } from '../src/enrich/page-url.js';
import { enrichLocation } from '../src/enrich/privacy/geoip.js';
import { applyIpMode } from '../src/enrich/privacy/ip.js';
import { createPseudonymiser } from '../src/enrich/privacy/pseudonymise.js';
import { enrichReferrer } from '../src/enrich/referrer.js';
import { enrichUserAgent } from '../src/enrich/user-agent.js';
import { openCityDatabase } from '../test/helpers/geoip-fixture.js';
import { atLeast, atMost, startBench } from './report.js';
import { BOT_UAS, BROWSER_UAS, UA } from '../test/helpers/user-agents.js';
import { decodeLogRecord, encodeAcceptedRecord } from '../src/events/log-record.js';
import { EVENTS_PER_REQUEST, runWrk, setEnrichment, startWeir, stopped, wrkScript } from './ingest-load.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
// `npm run bench` sets BENCH_SIZE=quick for a short pass: one on and one off run of 5 s.
const QUICK = process.env.BENCH_SIZE === 'quick';
const INGEST_RUNS = Number(process.env.BENCH_INGEST_RUNS ?? (QUICK ? 1 : 3));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 5 : 10));
const bench = startBench('enrich');
const CHUNK = 200;
// Run only the rows whose name contains this (for profiling one step).
const ONLY = process.env.BENCH_ONLY;
const SALT = Buffer.from('bench-salt-0123456789abcdef');

// A seeded generator, so every run measures the same mix.
let seed = 0x2545f491;
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

// 40 distinct user agents: the fixtures plus other versions of the common browsers.
const humanUas = [
  ...BROWSER_UAS.map((k) => UA[k]),
  ...[127, 128, 129, 130].flatMap((v) => [
    UA.chromeWindows.replace('131.0.0.0', `${v}.0.0.0`),
    UA.androidChrome.replace('131.0.0.0', `${v}.0.0.0`),
    UA.chromeMac.replace('131.0.0.0', `${v}.0.0.0`),
  ]),
  ...[130, 131, 132].map((v) => UA.firefoxWindows.replaceAll('133.0', `${v}.0`)),
];
const botUas = BOT_UAS.map((k) => UA[k]);

const REFERRERS = [
  'https://www.google.com/',
  'https://www.google.co.uk/',
  'https://www.google.de/',
  'https://www.bing.com/',
  'https://duckduckgo.com/',
  'https://search.yahoo.com/',
  'https://yandex.ru/',
  'https://www.ecosia.org/',
  'https://t.co/',
  'https://l.facebook.com/',
  'https://lm.facebook.com/',
  'https://www.linkedin.com/',
  'https://lnkd.in/',
  'https://www.reddit.com/',
  'https://news.ycombinator.com/',
  'https://www.instagram.com/',
  'https://www.youtube.com/',
  'https://mail.google.com/',
  'https://outlook.live.com/',
  'https://github.com/',
  'https://stackoverflow.com/',
  'https://dev.to/',
  'https://medium.com/',
  'https://www.producthunt.com/',
  'android-app://com.google.android.googlequicksearchbox/',
  'https://partner-blog.example.org/',
  'https://docs.example.net/',
  'https://www.wikipedia.org/',
  'https://chatgpt.com/',
  'https://www.baidu.com/',
];
const CAMPAIGNS = Array.from({ length: 10 }, (_, i) =>
  `utm_source=${pick(['newsletter', 'google', 'facebook', 'linkedin', 'partner'])}&utm_medium=${pick(['email', 'cpc', 'social', 'referral'])}&utm_campaign=campaign_${i}`,
);
const PATHS = Array.from({ length: 200 }, (_, i) => `/${pick(['products', 'blog', 'docs', 'pricing', 'about'])}/item-${i}`);
// Addresses in the fixture database's networks, so GeoIP lookups walk the tree to a record.
const VISITORS = Array.from({ length: 2000 }, (_, i) => {
  const ip =
    random() < 0.15
      ? `2001:218:${(i % 65536).toString(16)}::${(i * 7).toString(16)}`
      : pick(['81.2.69', '89.160.20', '216.160.83', '175.16.199', '175.16.3'] as const) + `.${i % 256}`;
  const ua = random() < 0.05 ? pick(botUas) : pick(humanUas);
  return { id: `anon-${i}`, userId: random() < 0.3 ? `user-${i}` : undefined, email: `visitor${i}@example.com`, ip, ua };
});

function eventJson(): string {
  const v = pick(VISITORS);
  const path = pick(PATHS);
  const r = random();
  const query = r < 0.3 ? `?${pick(CAMPAIGNS)}` : r < 0.33 ? `?gclid=Cj0KCQ${Math.floor(random() * 1e12).toString(36)}` : '';
  const url = `https://www.example.com${path}${query}`;
  const q = random();
  const referrer = q < 0.35 ? '' : q < 0.7 ? `https://www.example.com${pick(PATHS)}` : pick(REFERRERS);
  const isPage = random() < 0.6;
  const event: Record<string, unknown> = {
    type: isPage ? 'page' : 'track',
    ...(isPage ? {} : { event: pick(['Product Viewed', 'Added to Cart', 'Signed Up']) }),
    anonymousId: v.id,
    ...(v.userId ? { userId: v.userId } : {}),
    messageId: `m-${Math.floor(random() * 1e12).toString(36)}`,
    timestamp: '2026-11-22T10:00:00.000Z',
    receivedAt: '2026-11-22T10:00:00.100Z',
    properties: isPage ? { title: 'Page', path } : { product_id: 'sku-1', price: 89.9 },
    traits: v.userId ? { email: v.email } : undefined,
    context: {
      ip: v.ip,
      userAgent: v.ua,
      locale: 'en-GB',
      library: { name: 'analytics.js', version: 'next-1.70.0' },
      page: { url, path, search: query, referrer, title: 'Page' },
    },
  };
  return JSON.stringify(event);
}

const TEXTS = Array.from({ length: 20_000 }, eventJson);

type Event = Record<string, unknown> & { context: Record<string, unknown> };

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** CPU ns spent in `fn` over `count` fresh events, parsed and prepared in chunks outside the timing. */
function pass(count: number, fn: (event: Event) => void, prepare?: (event: Event) => void): number {
  let spent = 0;
  let next = 0;
  const chunk: Event[] = new Array<Event>(CHUNK);
  for (let n = 0; n < count; n += CHUNK) {
    for (let i = 0; i < CHUNK; i++) {
      const e = JSON.parse(TEXTS[next]!) as Event;
      next = (next + 1) % TEXTS.length;
      prepare?.(e);
      chunk[i] = e;
    }
    const started = cpuNs();
    for (let i = 0; i < CHUNK; i++) fn(chunk[i]!);
    spent += cpuNs() - started;
  }
  return spent;
}

const nothing = (_: Event): void => {};

/** ns of CPU per event in `fn` (less the timing's own cost), median of 3 passes. */
function measure(fn: (event: Event) => void, prepare?: (event: Event) => void): number {
  pass(50_000, fn, prepare);
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) runs.push((pass(EVENTS, fn, prepare) - pass(EVENTS, nothing, prepare)) / EVENTS);
  return Math.max(0, runs.sort((a, b) => a - b)[1]!);
}

// As the enricher copies it (Object.assign: keys added to a spread clone are slow, see copyFields).
const ownContext = (e: Event) => {
  e.context = copyFields(e.context);
};

const db = await openCityDatabase();
const geoip = db.geoip;
const pseudonymise = createPseudonymiser({ paths: ['userId', 'traits.email'], salt: SALT });
const enrichers: Record<string, Enricher> = {
  default: createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT }),
  everything: createEnricher({ settings: { ...DEFAULT_ENRICH_SETTINGS, pseudonymise: ['userId', 'traits.email'] }, geoip, salt: SALT }),
  collector: createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT, defer: true }),
  none: createEnricher({
    settings: { ...DEFAULT_ENRICH_SETTINGS, userAgent: false, referrer: false, campaign: false, pageUrl: false, ip: 'keep', geoip: false },
    salt: SALT,
  }),
};

const rows: Array<[string, () => number]> = [
  ['context copy (what every enricher run pays)', () => measure(ownContext)],
  ['bot detection + flag', () => measure((e) => flagBot(e.context, detectBotInContext(e.context)), ownContext)],
  ['user agent', () => measure((e) => enrichUserAgent(e.context), ownContext)],
  ['page URL', () => measure((e) => enrichPageUrl(e, e.context), ownContext)],
  ['campaign', () => measure((e) => enrichCampaign(e, e.context), ownContext)],
  ['referrer', () => measure((e) => enrichReferrer(e, e.context), ownContext)],
  ['ip truncate', () => measure((e) => applyIpMode(e.context, 'truncate'), ownContext)],
  ['GeoIP (fixture database)', () => measure((e) => enrichLocation(e.context, geoip), ownContext)],
  ['pseudonymise userId + traits.email', () => measure(pseudonymise, ownContext)],
  ['enricher, everything off (copy + bot check)', () => measure((e) => enrichers.none!(e))],
  ['**enricher, default settings**', () => measure((e) => enrichers.default!(e))],
  ['enricher, default + GeoIP + pseudonymise', () => measure((e) => enrichers.everything!(e))],
  ['collector stage, default settings (descriptive steps deferred)', () => measure((e) => enrichers.collector!(e))],
  ['log reader: deferred steps run at decode', () => measureDecode()],
];

/**
 * ns per record that a reader of the log pays for the deferred steps: decoding records written by
 * the collector stage, less decoding the same records with the steps skipped.
 */
function measureDecode(): number {
  const collector = enrichers.collector!;
  const records = TEXTS.map((t) => {
    const r = collector(JSON.parse(t) as Event);
    if (!r.ok) throw new Error('a bot under bots=keep cannot fail');
    return encodeAcceptedRecord('src_1', r.event, undefined, collector.deferred);
  });
  const decodeAll = (enrich: boolean): number => {
    const started = cpuNs();
    for (let n = 0; n < EVENTS; n++) decodeLogRecord(records[n % records.length]!, { enrich });
    return cpuNs() - started;
  };
  decodeAll(true);
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) runs.push((decodeAll(true) - decodeAll(false)) / EVENTS);
  return Math.max(0, runs.sort((a, b) => a - b)[1]!);
}

// What ingest's target leaves for enrichment: the whole enricher was budgeted well under 2 µs.
const BUDGET_NS: Record<string, number> = { '**enricher, default settings**': 2000 };

process.stdout.write(
  `bench:enrich — ${EVENTS} events per row, ${humanUas.length + botUas.length} user agents, ${REFERRERS.length} referrers + internal/direct, ${VISITORS.length} visitors, Node ${process.version}\n\n` +
    '| step | ns/event | events/s on one core |\n|---|---|---|\n',
);
for (const [name, run] of rows) {
  if (ONLY !== undefined && !name.includes(ONLY)) continue;
  const ns = run();
  process.stdout.write(`| ${name} | ${ns.toFixed(0)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} |\n`);
  const target = BUDGET_NS[name];
  bench.figure({ label: name.replaceAll('*', ''), value: Math.round(ns), unit: 'ns/event', ...(target !== undefined && atMost(ns, target, 'ns/event')) });
}

// The price of a cache miss: every user agent, URL and referrer new (an attacker's traffic).
const uniqueTexts = TEXTS.slice(0, 2000).map((t, i) =>
  t.replace(/"userAgent":"([^"]*)"/, `"userAgent":"$1 U/${i}"`).replace(/"referrer":"([^"]*)"/, `"referrer":"https://r${i}.example.org/"`).replace(/"url":"([^"?]*)/, `"url":"$1/${i}`),
);
const fresh = uniqueTexts.map((t) => JSON.parse(t) as Event);
const start = cpuNs();
for (const e of fresh) enrichers.default!(e);
const missNs = (cpuNs() - start) / uniqueTexts.length;
process.stdout.write(`\nEvery string new (all cache misses, default settings): ${(missNs / 1000).toFixed(1)} µs/event\n`);
bench.figure({ label: 'enricher, default settings, every string new (cache misses)', value: Math.round(missNs), unit: 'ns/event' });
db.cleanup();

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Ingest over HTTP with enrichment on and off, alternating; events/s of each run. */
async function ingest(): Promise<Record<'on' | 'off', number[]>> {
  const out: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let run = 0; run < INGEST_RUNS; run++) {
    for (const mode of ['on', 'off'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-bench-enrich-'));
      const weir = await startWeir({ command: 'collector', dataDir: join(dir, 'data'), port: 18090, workers: 0, warehouse: 'none' });
      try {
        const url = 'http://127.0.0.1:18090';
        if (mode === 'off') setEnrichment(join(dir, 'data'), 'off');
        // Longer than the collectors' 5 s source refresh, so the settings are in force after it.
        runWrk(url, wrkScript(weir.writeKey, 'batched', 0), dir, 6, 128);
        const r = runWrk(url, wrkScript(weir.writeKey, 'batched', 0), dir, SECONDS, 128);
        if (r.non2xx > 0 || r.errors !== '') throw new Error(`ingest run failed: ${r.non2xx} non-2xx, socket errors ${r.errors}`);
        const eps = r.requestsPerSec * EVENTS_PER_REQUEST;
        out[mode].push(eps);
        process.stderr.write(`[bench:enrich] ingest, enrichment ${mode}: ${Math.round(eps)} events/s, p99 ${r.p99ms} ms (load ${loadavg()[0]!.toFixed(2)})\n`);
      } finally {
        await stopped(weir.child);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return out;
}

const load = loadavg()[0]!;
if (INGEST_RUNS > 0 && spawnSync('sh', ['-c', 'command -v wrk']).status === 0) {
  const eps = await ingest();
  const on = median(eps.on);
  const off = median(eps.off);
  const range = (xs: number[]) => `${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')}`;
  process.stdout.write(
    `\nIngest (weir collector, 128 connections, ${SECONDS} s runs, load average ${load.toFixed(2)} at the start):\n\n` +
      '| run | events/s (median) | range |\n|---|---|---|\n' +
      `| enrichment on (default settings) | ${Math.round(on).toLocaleString('en-US')} | ${range(eps.on)} |\n` +
      `| enrichment off (every step off) | ${Math.round(off).toLocaleString('en-US')} | ${range(eps.off)} |\n`,
  );
  bench.figure({ label: 'ingest with enrichment on (default settings)', value: Math.round(on), unit: 'events/s', ...atLeast(on, 100_000, 'events/s') });
  bench.figure({ label: 'ingest with enrichment off', value: Math.round(off), unit: 'events/s' });
  bench.note(`Ingest runs: on ${eps.on.map(Math.round).join(', ')}; off ${eps.off.map(Math.round).join(', ')} events/s; load average ${load.toFixed(2)} at their start.`);
} else if (INGEST_RUNS > 0) {
  process.stderr.write('[bench:enrich] wrk not found (apt-get install wrk): ingest not measured\n');
}

bench.finish();
