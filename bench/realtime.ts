/**
 * `npm run bench:realtime`: how many pings per second the real-time path takes, and how long a
 * ping takes to reach a live snapshot.
 *
 * 1. Aggregator alone: BENCH_PINGS tracker pings (BENCH_VISITORS visitors over 200 pages) are
 *    appended to a file log, then the aggregator reads them through its consumer group into the
 *    memory store; pings/s is the count over the time to drain. The decode step (JSON.parse of
 *    the record and the hit) and the store step are also timed alone, in memory.
 * 2. Through `weir up` (2 collector workers): BENCH_RATE pings/s (requests of 20) are offered for
 *    BENCH_SECONDS, open loop, on the default source. Meanwhile a probe sends a page view of a
 *    new visitor to a second source every 200 ms, and the time from before its request to the
 *    first `/api/live` snapshot that counts it is its ping-to-SSE latency (which includes the
 *    ingest acknowledgement, an fsync). Probes also run with no other load.
 *
 * Usage: node dist/bench/realtime.js [--json <file>]
 * Env: BENCH_PINGS (300000), BENCH_VISITORS (20000), BENCH_RATE (4000), BENCH_SECONDS (15), BENCH_UP (1; 0 skips part 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { encodeAcceptedRecord } from '../src/events/log-record.js';
import { openFileEventLog } from '../src/log/file/index.js';
import { createLogger } from '../src/observability/logger.js';
import { decodeHits, runRealtimeAggregator } from '../src/realtime/aggregator.js';
import { createMemoryRealtimeStore } from '../src/realtime/memory/index.js';
import { openSse } from '../test/helpers/sse.js';
import { startWeir, stopWeir, type RunningWeir } from './weir-up.js';

const PINGS = Number(process.env.BENCH_PINGS ?? 300_000);
const VISITORS = Number(process.env.BENCH_VISITORS ?? 20_000);
const RATE = Number(process.env.BENCH_RATE ?? 4000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const PER_REQUEST = 20;
const PROBE_TIMEOUT_MS = 5000;
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface Figure {
  label: string;
  value: number;
  unit: string;
  target?: string;
  met?: boolean;
}

function progress(line: string): void {
  process.stderr.write(`[bench:realtime] ${line}\n`);
}

/** A ping as weir.js sends it, as the collector stores it (normalised and enriched). */
function storedPing(i: number, receivedAt: string): Record<string, unknown> {
  const v = i % VISITORS;
  const path = `/section-${v % 20}/story-${v % 200}`;
  return {
    type: 'track',
    event: 'Page Ping',
    anonymousId: `visitor-${v}`,
    messageId: `ping-${i}`,
    properties: { page_view_id: `pv-${v}`, engaged_seconds: 15, total_engaged_seconds: 15 * (1 + (i % 8)), max_scroll_depth: (i * 7) % 101 },
    context: {
      library: { name: 'weir.js', version: '0.1.0' },
      page: { url: `https://news.example${path}`, path, search: '', title: `Story ${v % 200}`, referrer: 'https://www.google.com/' },
      returning: v % 3 === 0,
      screen: { width: 1440, height: 900, density: 2 },
      locale: 'en-GB',
      timezone: 'Europe/London',
      userAgent: CHROME,
      userAgentData: { browser: 'Chrome', browserVersion: '131.0.0.0', os: 'Linux', deviceType: 'desktop' },
      referrer: { type: 'search', name: 'Google', host: 'www.google.com' },
    },
    originalTimestamp: receivedAt,
    sentAt: receivedAt,
    receivedAt,
    timestamp: receivedAt,
  };
}

async function aggregatorAlone(figures: Figure[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-realtime-'));
  try {
    const log = await openFileEventLog({ dir });
    const writer = await log.openWriter(0);
    const receivedAt = new Date().toISOString();
    const records: Buffer[] = [];
    for (let i = 0; i < PINGS; i++) records.push(encodeAcceptedRecord('src_bench', storedPing(i, receivedAt)));
    for (let i = 0; i < records.length; i += 5000) await writer.append(records.slice(i, i + 5000));
    await writer.close();
    const bytes = records.reduce((n, r) => n + r.length, 0);
    progress(`aggregator alone: ${PINGS} pings (${(bytes / PINGS).toFixed(0)} bytes each) in the log`);

    // Decode alone, then the store alone, on the same batches as the aggregator's.
    const batches = [];
    for (let i = 0; i < records.length; i += 5000) batches.push(records.slice(i, i + 5000).map((value, k) => ({ partition: 0, offset: i + k, value })));
    let t = performance.now();
    const hitBatches = batches.map((b) => decodeHits(b, 0).hits);
    const decodeS = (performance.now() - t) / 1000;
    const store = createMemoryRealtimeStore();
    t = performance.now();
    for (const hits of hitBatches) await store.record(hits);
    const storeS = (performance.now() - t) / 1000;
    t = performance.now();
    // As of just after the pings were received: time is passed in, however long the run took.
    const snap = await store.snapshot('src_bench', Date.parse(receivedAt) + 1000);
    const snapshotMs = performance.now() - t;
    figures.push({ label: 'decode (JSON.parse + hit) alone', value: Math.round(PINGS / decodeS), unit: 'pings/s' });
    figures.push({ label: 'memory store record alone', value: Math.round(PINGS / storeS), unit: 'pings/s' });
    figures.push({ label: `snapshot of ${snap.visitors.total} current visitors`, value: Math.round(snapshotMs * 100) / 100, unit: 'ms' });

    const full = createMemoryRealtimeStore();
    const stop = new AbortController();
    let seen = 0;
    t = performance.now();
    const done = runRealtimeAggregator({
      log,
      store: full,
      logger: createLogger('silent'),
      signal: stop.signal,
      onBatch: (b) => {
        seen += b.hits;
        if (seen >= PINGS) stop.abort();
      },
    });
    await done;
    const aggS = (performance.now() - t) / 1000;
    figures.push({ label: 'aggregator: log read + decode + store', value: Math.round(PINGS / aggS), unit: 'pings/s' });
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Ping-to-snapshot latencies of probes sent every 200 ms for `seconds` to the probe source. */
async function probe(w: RunningWeir, probeKey: string, probeSource: string, seconds: number): Promise<number[]> {
  const live = await openSse(`${w.url}/api/live?source=${probeSource}`, { authorization: `Bearer ${w.token}` });
  // A loaded machine may take a while to answer the first time.
  await live.next('snapshot', () => true, 30_000);
  const base = live.events.at(-1)!.data.visitors.total as number;
  const latencies: number[] = [];
  const started = performance.now();
  for (let k = 1; performance.now() - started < seconds * 1000; k++) {
    const from = live.events.length;
    const sent = performance.now();
    const body = JSON.stringify({
      batch: [{ type: 'page', anonymousId: randomUUID(), properties: { page_view_id: randomUUID() }, context: { page: { url: 'https://news.example/probe', path: '/probe' } } }],
    });
    const res = await fetch(`${w.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${probeKey}:`).toString('base64')}`, 'content-type': 'application/json', 'user-agent': CHROME },
      body,
    });
    await res.arrayBuffer();
    const seen = await live.next('snapshot', (s) => s.visitors.total >= base + k, PROBE_TIMEOUT_MS, from).catch(() => undefined);
    // A probe not seen in time counts as the timeout, so the percentiles do not flatter.
    latencies.push(seen ? seen.at - sent : PROBE_TIMEOUT_MS);
    const next = sent + 200 - performance.now();
    if (next > 0) await new Promise((r) => setTimeout(r, next));
  }
  live.close();
  return latencies.sort((a, b) => a - b);
}

async function throughWeirUp(figures: Figure[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-realtime-up-'));
  const w = await startWeir(dir, { WEIR_SERVER_WORKERS: '2' });
  try {
    const created = await fetch(`${w.url}/api/sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'probe' }),
    });
    const probeSource = ((await created.json()) as { source: { id: string; writeKey: string } }).source;

    progress('probes with no other load');
    const idle = await probe(w, probeSource.writeKey, probeSource.id, 6);

    progress(`offering ${RATE} pings/s for ${SECONDS} s, probing meanwhile`);
    // What the aggregator counted, read from the real-time path itself (the source's per-minute
    // events), not from /metrics, which a busy sinks process answers late.
    const main = await openSse(`${w.url}/api/live?source=default`, { authorization: `Bearer ${w.token}` });
    const counted = (): number => (main.events.at(-1)?.data.minutes ?? []).reduce((n: number, m: { events: number }) => n + m.events, 0);
    await main.next('snapshot', () => true, 30_000);
    const before = counted();
    let sent = 0;
    let acked = 0;
    const inflight = new Set<Promise<void>>();
    const started = performance.now();
    const sender = (async () => {
      const requestsPerSecond = RATE / PER_REQUEST;
      let seq = 0;
      while (performance.now() - started < SECONDS * 1000) {
        const due = Math.floor(((performance.now() - started) / 1000) * requestsPerSecond);
        while (seq < due) {
          const first = seq++ * PER_REQUEST;
          const now = new Date().toISOString();
          const batch = Array.from({ length: PER_REQUEST }, (_, i) => {
            const { receivedAt: _r, timestamp: _t, sentAt: _s, originalTimestamp: _o, ...ping } = storedPing(first + i, now);
            return { ...ping, messageId: randomUUID() };
          });
          const p = fetch(`${w.url}/v1/batch`, {
            method: 'POST',
            headers: { authorization: `Basic ${Buffer.from(`${w.writeKey}:`).toString('base64')}`, 'content-type': 'application/json', 'user-agent': CHROME },
            body: JSON.stringify({ batch }),
          })
            .then(async (r) => {
              await r.arrayBuffer();
              if (r.status === 200) acked += PER_REQUEST;
            })
            .catch(() => {})
            .finally(() => inflight.delete(p));
          inflight.add(p);
          sent += PER_REQUEST;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const loaded = await probe(w, probeSource.writeKey, probeSource.id, SECONDS - 1);
    await sender;
    await Promise.all(inflight);
    const sendS = (performance.now() - started) / 1000;
    // The aggregator keeps up when it has counted everything acknowledged shortly after.
    await main.next('snapshot', () => counted() - before >= acked, 30_000, 0).catch(() => undefined);
    const aggregated = counted() - before;
    main.close();
    const caughtUpS = (performance.now() - started) / 1000;
    progress(`offered ${sent}, acknowledged ${acked}, aggregated ${aggregated} ${(caughtUpS - sendS).toFixed(1)} s after the last send`);
    figures.push({ label: `weir up: pings offered at ${RATE}/s, acknowledged`, value: Math.round(acked / sendS), unit: 'pings/s' });
    figures.push({ label: 'weir up: aggregated, until caught up', value: Math.round(aggregated / caughtUpS), unit: 'pings/s' });
    figures.push({ label: 'weir up: aggregator caught up after the last send', value: Math.round((caughtUpS - sendS) * 10) / 10, unit: 's' });
    const lat = (label: string, l: number[]) => {
      figures.push({ label: `${label} p50`, value: Math.round(pct(l, 50)), unit: 'ms' });
      figures.push({ label: `${label} p95`, value: Math.round(pct(l, 95)), unit: 'ms', target: '≤ 1000 ms', met: pct(l, 95) <= 1000 });
      figures.push({ label: `${label}: probes (not seen within ${PROBE_TIMEOUT_MS} ms)`, value: l.length, unit: `(${l.filter((x) => x >= PROBE_TIMEOUT_MS).length})` });
    };
    lat('ping-to-SSE latency, idle', idle);
    lat(`ping-to-SSE latency, under ${RATE} pings/s`, loaded);
  } finally {
    await stopWeir(w.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const jsonAt = process.argv.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;
  if (jsonAt >= 0 && !jsonFile) {
    process.stderr.write('bench:realtime: --json needs a file name\n');
    process.exit(2);
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
  const loadBefore = loadavg()[0]!.toFixed(1);
  progress(`machine: ${machine}; load ${loadBefore}`);
  const figures: Figure[] = [];
  await aggregatorAlone(figures);
  if (process.env.BENCH_UP !== '0') await throughWeirUp(figures);
  const load = `${loadBefore} → ${loadavg()[0]!.toFixed(1)}`;
  const lines = [
    `### bench:realtime — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machine}. Load average (1 min) ${load}. ${PINGS} pings over ${VISITORS} visitors for the aggregator alone; ${RATE} pings/s offered for ${SECONDS} s through weir up (2 collector workers).`,
    '',
    '| figure | value | target |',
    '|---|---|---|',
    ...figures.map((f) => `| ${f.label} | ${f.value.toLocaleString('en-US')} ${f.unit} | ${f.target ? `${f.target}${f.met ? ' ✓' : ' ✗'}` : ''} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ name: 'realtime', machine: `${machine}; load ${load}`, date: new Date().toISOString(), figures }, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
