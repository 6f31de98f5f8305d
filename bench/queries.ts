/**
 * `npm run bench:queries`: ten fixed analytics queries over synthetic events in the warehouse
 * schema (Segment convention: `pages`, `tracks`, and the `order_completed` event table), in the
 * embedded DuckDB warehouse, through the same `Warehouse.query` that `POST /api/query` uses.
 *
 * Data: 90 days of web-shop traffic generated inside DuckDB with `range` (no rows cross into
 * Node): sessions of 8 events (3 page views, 5 tracks) 30–150 s apart; visitors (one per 40
 * events) come back on later days with decaying probability, 30 % of them identified; page
 * popularity, referrers, countries and event names are skewed like real traffic. Rows are in
 * session order, as a loader writing concurrent sessions would roughly leave them.
 *
 * Per size: the generation time, then per query a cold run (a newly opened warehouse: DuckDB's
 * buffers empty, though the OS page cache is not dropped) and the median of 3 warm runs.
 *
 * Env: BENCH_QUERY_EVENTS (comma-separated sizes, default `10000000,100000000`),
 * BENCH_WARM_RUNS (3). `--json <file>` writes the figures (bench/report.ts).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDbWarehouse } from '../src/warehouse/duckdb/index.js';
import type { Warehouse } from '../src/warehouse/warehouse.js';
import { formatNumber, renderBlock, startBench } from './report.js';

const SIZES = (process.env.BENCH_QUERY_EVENTS ?? '10000000,100000000').split(',').map(Number);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 3);
const SCHEMA = 'shop';
const DAYS = 90;
const START = '2026-08-23';
/** Rows generated per statement: bounded memory, and a progress line for each. */
const CHUNK = 5_000_000;
const HOUR = 3_600_000;

const rec = startBench('queries');
const progress = rec.progress;

/** A pseudo-random number in [0, 1) from hash(seed expression). */
const r01 = (expr: string) => `((hash(${expr}) % 1000000) / 1000000.0)`;
const pick = (items: string[], expr: string) => `[${items.map((s) => `'${s}'`).join(', ')}][1 + (hash(${expr}) % ${items.length})::int]`;

const REFERRERS = [
  'https://www.google.com/', 'https://www.google.com/', 'https://www.google.com/', 'https://www.bing.com/', 'https://duckduckgo.com/',
  'https://www.facebook.com/', 'https://t.co/abc', 'https://news.ycombinator.com/', 'https://www.reddit.com/r/shoes/', 'https://newsletter.example.org/issue/42',
];
const COUNTRIES = ['DE', 'DE', 'DE', 'US', 'US', 'GB', 'FR', 'NL', 'AT', 'CH', 'IT', 'ES', 'PL', 'SE', 'BR', 'IN'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
];
// Out of every 100 tracks: the funnel's middle step (45) and last step (1), and other events.
const TRACK_EVENTS = "case when h < 45 then 'product_viewed' when h < 65 then 'add_to_cart' when h < 94 then 'article_read' when h < 99 then 'signed_up' else 'order_completed' end";

/**
 * Columns every event table has (envelope and context), from the generator's base columns.
 * Times are made with to_timestamp(epoch): TIMESTAMPTZ + INTERVAL goes through ICU's calendar,
 * about 3× the CPU.
 */
const COMMON = `'a' || v as anonymous_id, case when hash(v * 3 + 5) % 10 < 3 then 'u' || v end as user_id,
  to_timestamp(epoch_s + 0.3) as received_at, to_timestamp(epoch_s + 0.2) as sent_at, to_timestamp(epoch_s) as timestamp, to_timestamp(epoch_s) as original_timestamp,
  'analytics.js' as context_library_name, '5.2.0' as context_library_version, 'en-GB' as context_locale,
  ${pick(USER_AGENTS, 'v * 11 + 1')} as context_user_agent, '203.0.' || (v % 256) || '.0' as context_ip,
  ${pick(COUNTRIES, 'v * 13 + 2')} as context_location_country,
  '/p/' || path_n as context_page_path, 'https://shop.example.com/p/' || path_n as context_page_url`;

/** Events [lo, hi): session s = i / 8, step k = i % 8; pages at steps 0, 3 and 5. */
function base(lo: number, hi: number, visitors: number): string {
  return `select i, k, v, path_n, h,
      (${Date.parse(`${START}T00:00:00Z`) / 1000} + d * 86400 + (hash(s * 7 + 3) % 86400) + k * 75 + (hash(i) % 60))::bigint as epoch_s
    from (
      select i, k, v, h, path_n,
        -- a visitor's first day, and later days ever rarer (a decaying retention curve)
        first_day + floor((${DAYS - 1} - first_day) * pow(${r01('s * 5 + 2')}, 3))::bigint as d, s
      from (
        select i, i // 8 as s, i % 8 as k, hash(i // 8) % ${visitors} as v,
          hash(hash(i // 8) % ${visitors} * 3 + 1) % ${DAYS} as first_day,
          hash(i * 17 + 9) % 100 as h,
          floor(2000 * pow(${r01('i * 19 + 4')}, 3))::bigint as path_n
        from range(${lo}, ${hi}) t(i)))`;
}

function chunkSql(lo: number, hi: number, visitors: number): string {
  return `insert into pages by name select 'p' || i as id, ${COMMON},
      'Product ' || path_n as name, '/p/' || path_n as path, 'https://shop.example.com/p/' || path_n as url,
      ${pick(REFERRERS, 'i * 23 + 6')} as referrer, 'Product ' || path_n || ' | Shop' as title
    from (${base(lo, hi, visitors)}) where k in (0, 3, 5);
  insert into tracks by name select 't' || i as id, ${COMMON},
      ${TRACK_EVENTS} as event, replace(${TRACK_EVENTS}, '_', ' ') as event_text
    from (${base(lo, hi, visitors)}) where k not in (0, 3, 5)`;
}

const COLUMNS = `id varchar, anonymous_id varchar, user_id varchar, received_at timestamptz, sent_at timestamptz, timestamp timestamptz,
  original_timestamp timestamptz, context_library_name varchar, context_library_version varchar, context_locale varchar,
  context_user_agent varchar, context_ip varchar, context_location_country varchar, context_page_path varchar, context_page_url varchar`;

/** The ten fixed queries. */
export const QUERIES: Array<[string, string]> = [
  ['events per day', `select date_trunc('day', timestamp) as day, count(*) as events from (select timestamp from pages union all select timestamp from tracks) group by 1 order by 1`],
  ['top pages', `select path, count(*) as views, count(distinct anonymous_id) as visitors from pages group by 1 order by views desc limit 10`],
  ['unique visitors per day', `select date_trunc('day', timestamp) as day, count(distinct anonymous_id) as visitors from (select timestamp, anonymous_id from pages union all select timestamp, anonymous_id from tracks) group by 1 order by 1`],
  [
    'funnel: page → product viewed → order completed',
    `with s1 as (select anonymous_id, min(timestamp) as t from pages group by 1),
      s2 as (select e.anonymous_id, min(e.timestamp) as t from tracks e join s1 using (anonymous_id) where e.event = 'product_viewed' and e.timestamp > s1.t group by 1),
      s3 as (select e.anonymous_id, min(e.timestamp) as t from tracks e join s2 using (anonymous_id) where e.event = 'order_completed' and e.timestamp > s2.t group by 1)
    select (select count(*) from s1) as viewed_page, (select count(*) from s2) as viewed_product, (select count(*) from s3) as ordered`,
  ],
  [
    'retention by week cohort',
    `with seen as (select distinct anonymous_id, date_trunc('week', timestamp) as week from pages),
      cohort as (select anonymous_id, min(week) as cohort from seen group by 1)
    select cohort, datediff('week', cohort, week) as weeks_later, count(*) as visitors
    from seen join cohort using (anonymous_id) group by 1, 2 order by 1, 2`,
  ],
  ['top referrers', `select regexp_extract(referrer, '^https?://([^/]+)', 1) as host, count(*) as views from pages group by 1 order by views desc limit 10`],
  [
    'sessions (30-minute gap)',
    // epoch(): subtracting two TIMESTAMPTZ values goes through ICU's calendar and is ~7× slower.
    `select count(*) as sessions from (
      select epoch(timestamp) - lag(epoch(timestamp)) over (partition by anonymous_id order by timestamp) as gap
      from (select anonymous_id, timestamp from pages union all select anonymous_id, timestamp from tracks))
    where gap is null or gap > 1800`,
  ],
  ['p50/p95 of revenue per day', `select date_trunc('day', timestamp) as day, quantile_cont(revenue, 0.5) as p50, quantile_cont(revenue, 0.95) as p95 from order_completed group by 1 order by 1`],
  ['events and visitors per country', `select context_location_country as country, count(*) as events, count(distinct anonymous_id) as visitors from (select context_location_country, anonymous_id from pages union all select context_location_country, anonymous_id from tracks) group by 1 order by events desc`],
  [
    'time from first page view to first order',
    `with f as (select anonymous_id, min(timestamp) as first_seen from pages group by 1),
      o as (select anonymous_id, min(timestamp) as first_order from order_completed group by 1)
    select count(*) as buyers, quantile_cont(epoch(first_order - first_seen) / 3600, 0.5) as p50_hours, quantile_cont(epoch(first_order - first_seen) / 3600, 0.9) as p90_hours
    from f join o using (anonymous_id) where first_order >= first_seen`,
  ],
];

async function generate(warehouse: Warehouse, events: number): Promise<void> {
  const visitors = Math.max(1000, Math.floor(events / 40));
  const run = (sql: string) => warehouse.execute(sql, { schema: SCHEMA, timeoutMs: 6 * HOUR });
  await warehouse.ensureSchema(SCHEMA);
  await run(`create table pages (${COLUMNS}, name varchar, path varchar, url varchar, referrer varchar, title varchar);
    create table tracks (${COLUMNS}, event varchar, event_text varchar)`);
  const started = performance.now();
  for (let lo = 0; lo < events; lo += CHUNK) {
    const hi = Math.min(events, lo + CHUNK);
    await run(chunkSql(lo, hi, visitors));
    const s = (performance.now() - started) / 1000;
    progress(`  ${formatNumber(hi)} of ${formatNumber(events)} events (${((hi / events) * 100).toFixed(0)} %), ${s.toFixed(0)} s, ~${((s / hi) * (events - hi)).toFixed(0)} s to go`);
  }
  // The event table of the funnel's last step, with its properties as columns.
  await run(`create table order_completed as select *, 'o' || id as order_id, 'EUR' as currency,
      round(5 + pow((hash(id) % 10000) / 10000.0, 2) * 300, 2) as revenue
    from tracks where event = 'order_completed'`);
  await run('checkpoint');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(warehouse: Warehouse, sql: string): Promise<{ ms: number; rows: unknown[][] }> {
  const t = performance.now();
  const r = await warehouse.query(sql, { schema: SCHEMA, timeoutMs: HOUR, maxRows: 100_000 });
  return { ms: performance.now() - t, rows: r.rows };
}

async function benchSize(dir: string, events: number): Promise<void> {
  const file = join(dir, `events-${events}.duckdb`);
  const size = formatNumber(events / 1e6) + 'M';
  progress(`${size} events: generating into ${file}`);
  const started = performance.now();
  let warehouse = await openDuckDbWarehouse({ file });
  try {
    await generate(warehouse, events);
  } finally {
    await warehouse.close();
  }
  const genS = (performance.now() - started) / 1000;
  rec.figure({ label: `${size} events: generation (inside DuckDB, checkpointed)`, value: genS, unit: 's' });
  rec.note(`${size} events: database file ${(statSync(file).size / 2 ** 30).toFixed(1)} GiB.`);
  progress(`${size} events generated in ${genS.toFixed(0)} s`);
  for (const [name, sql] of QUERIES) {
    // Cold: a newly opened warehouse, its buffer cache empty.
    warehouse = await openDuckDbWarehouse({ file });
    try {
      const cold = await timed(warehouse, sql);
      const warm: number[] = [];
      for (let i = 0; i < WARM_RUNS; i++) warm.push((await timed(warehouse, sql)).ms);
      progress(`  ${name}: cold ${cold.ms.toFixed(0)} ms, warm ${median(warm).toFixed(0)} ms (${cold.rows.length} rows, first ${JSON.stringify(cold.rows[0])})`);
      rec.figure({ label: `${size} events: ${name}, cold`, value: cold.ms, unit: 'ms' });
      rec.figure({ label: `${size} events: ${name}, warm (median of ${WARM_RUNS})`, value: median(warm), unit: 'ms' });
    } finally {
      await warehouse.close();
    }
  }
  rmSync(file, { force: true });
}

async function main(): Promise<void> {
  for (const n of SIZES) {
    if (!Number.isInteger(n) || n < 8) {
      process.stderr.write(`bench:queries: BENCH_QUERY_EVENTS must be a list of whole numbers of at least 8, got "${process.env.BENCH_QUERY_EVENTS}"\n`);
      process.exit(2);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-queries-'));
  rec.note(
    `Embedded DuckDB warehouse (default settings, as \`weir up\` opens it), queried through \`Warehouse.query\` as \`POST /api/query\` does. ` +
      `${DAYS} days of synthetic shop traffic: 3 of 8 events are pages, the rest tracks; one visitor per 40 events; 1 % of tracks are order_completed. ` +
      'Cold: first run in a newly opened warehouse (OS page cache not dropped).',
  );
  try {
    for (const n of SIZES) await benchSize(dir, n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${renderBlock(rec.finish())}\n`);
}

await main();
