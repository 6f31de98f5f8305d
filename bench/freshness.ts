/**
 * `npm run bench:freshness`: how soon an acknowledged event is visible to queries, and how fast
 * the loader drains a backlog, per warehouse adapter.
 *
 * 1. Freshness: `weir up` takes 10,000 events/s (500 requests/s of 20 events) for BENCH_SECONDS.
 *    Each request carries one probe event; the time from its 200 to the moment
 *    `POST /api/query` (what `weir query` uses) first returns its row is its freshness. The
 *    query polls every 50 ms, so figures include up to 50 ms of polling granularity.
 * 2. Loader throughput: BENCH_BACKLOG events are ingested with the warehouse off, then `weir up`
 *    starts with it on, and the time until the loader's lag is 0 gives events/s.
 *
 * Adapters: duckdb always; postgres and clickhouse when their local servers answer. Their runs
 * drop and recreate the schema "default" on those servers.
 *
 * Env: BENCH_SECONDS (20), BENCH_RATE (10000 events/s), BENCH_BACKLOG (200000), BENCH_ADAPTERS (duckdb,postgres,clickhouse).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { atMost, describeMachine, startBench } from './report.js';
import { startWeir, stopWeir, type RunningWeir } from './weir-up.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200_000);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'duckdb,postgres,clickhouse').split(',');
const PER_REQUEST = 20;
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CH_URL = 'http://127.0.0.1:8123';

const rec = startBench('freshness');
const progress = rec.progress;

function batch(probeId: string, seq: number): string {
  const events = Array.from({ length: PER_REQUEST }, (_, i) => ({
    type: 'track',
    event: 'Freshness Probe',
    userId: `u${seq % 97}`,
    messageId: i === 0 ? probeId : `${probeId}-${i}`,
    properties: { seq, i, price: 9.5 },
    context: { library: { name: 'bench' } },
  }));
  return JSON.stringify({ batch: events });
}

async function query(w: RunningWeir, sql: string): Promise<unknown[][]> {
  const res = await fetch(`${w.url}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql, maxRows: 10000 }),
  });
  const body = (await res.json()) as { rows?: unknown[][]; message?: string };
  if (!res.ok) throw new Error(body.message ?? `HTTP ${res.status}`);
  return body.rows ?? [];
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function freshness(engineEnv: Record<string, string>, dir: string): Promise<{ p50: number; p95: number; max: number; probes: number; rate: number }> {
  const w = await startWeir(join(dir, 'fresh'), engineEnv);
  try {
    const acked = new Map<string, number>();
    const seen = new Map<string, number>();
    const requestsPerSecond = RATE / PER_REQUEST;
    const started = performance.now();
    let sent = 0;
    let inflight = 0;
    const send = async (seq: number) => {
      const probe = `p${seq}`;
      inflight++;
      try {
        const res = await fetch(`${w.url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${w.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
          body: batch(probe, seq),
        });
        await res.arrayBuffer();
        if (res.status === 200) acked.set(probe, performance.now());
      } finally {
        inflight--;
      }
    };
    // Open loop: requests leave on schedule whatever the answers do.
    const sender = (async () => {
      while (performance.now() - started < SECONDS * 1000) {
        const due = Math.floor(((performance.now() - started) / 1000) * requestsPerSecond);
        while (sent < due) void send(sent++);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let lastReport = 0;
    const poller = (async () => {
      while (performance.now() - started < (SECONDS + 15) * 1000) {
        const pending = [...acked.keys()].filter((id) => !seen.has(id));
        if (pending.length === 0 && performance.now() - started > SECONDS * 1000 && inflight === 0) break;
        for (let i = 0; i < pending.length; i += 2000) {
          const ids = pending.slice(i, i + 2000);
          const rows = await query(w, `select id from tracks where id in (${ids.map((id) => `'${id}'`).join(',')})`).catch(() => []);
          const now = performance.now();
          for (const [id] of rows) if (!seen.has(id as string)) seen.set(id as string, now);
        }
        if (performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          progress(`  ${((performance.now() - started) / 1000).toFixed(0)} s: ${acked.size} requests acknowledged, ${seen.size} probes visible`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await sender;
    await poller;
    const lags = [...seen].map(([id, at]) => at - acked.get(id)!).sort((a, b) => a - b);
    return { p50: pct(lags, 50), p95: pct(lags, 95), max: lags[lags.length - 1] ?? NaN, probes: lags.length, rate: (acked.size * PER_REQUEST) / SECONDS };
  } finally {
    await stopWeir(w.child);
  }
}

async function loaderThroughput(engineEnv: Record<string, string>, dir: string): Promise<number> {
  const dataDir = join(dir, 'backlog');
  const ingest = await startWeir(dataDir, { WEIR_WAREHOUSE_ENGINE: 'none' });
  const body = (seq: number) => batch(`b${seq}`, seq).replace(/Freshness Probe/g, 'Backlog Event');
  for (let seq = 0; seq * PER_REQUEST < BACKLOG; seq += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) =>
        fetch(`${ingest.url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${ingest.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
          body: body(seq + k),
        }).then((r) => r.arrayBuffer()),
      ),
    );
  }
  await stopWeir(ingest.child);
  const w = await startWeir(dataDir, engineEnv);
  // From the moment the loader runs: start-up is not loading.
  const started = performance.now();
  try {
    for (;;) {
      const res = await fetch(`${w.url}/readyz`);
      const b = (await res.json()) as { checks: { warehouse?: { lag: number; ok: boolean } } };
      if (b.checks.warehouse?.ok && b.checks.warehouse.lag === 0) {
        // The schema appears with the first batch; until then the query fails.
        const rows = await query(w, 'select count(*) from tracks').catch(() => [[0]]);
        if (Number(rows[0]?.[0]) >= BACKLOG) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return BACKLOG / ((performance.now() - started) / 1000);
  } finally {
    await stopWeir(w.child);
  }
}

async function serverAnswers(name: string): Promise<boolean> {
  try {
    if (name === 'postgres') {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query('DROP SCHEMA IF EXISTS "default" CASCADE');
      await c.end();
      return true;
    }
    if (name === 'clickhouse') {
      const res = await fetch(CH_URL, { method: 'POST', body: 'DROP DATABASE IF EXISTS `default_bench_probe`' });
      if (!res.ok) return false;
      return true;
    }
    return true;
  } catch {
    return false;
  }
}

async function resetSchema(name: string): Promise<void> {
  if (name === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query('DROP SCHEMA IF EXISTS "default" CASCADE');
    await c.end();
  } else if (name === 'clickhouse') {
    // ClickHouse's own "default" database cannot be dropped; drop Weir's tables in it.
    const tables = (await (await fetch(CH_URL, { method: 'POST', body: 'SHOW TABLES FROM `default`' })).text()).trim().split('\n').filter(Boolean);
    for (const t of tables) await fetch(CH_URL, { method: 'POST', body: `DROP TABLE IF EXISTS \`default\`.\`${t}\`` });
  }
}

async function main(): Promise<void> {
  const machine = describeMachine(rec.report.machine);
  progress(`machine: ${machine}`);
  rec.note(`${RATE} events/s offered for ${SECONDS} s (${RATE / PER_REQUEST} requests/s × ${PER_REQUEST} events), open loop; freshness polled every 50 ms; backlog of ${BACKLOG} events for the loader.`);
  const lines = [
    `### bench:freshness — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machine}. ${RATE} events/s offered for ${SECONDS} s (500 requests/s × ${PER_REQUEST} events), open loop; backlog of ${BACKLOG} events for the loader.`,
    '',
    '| adapter | offered → acknowledged events/s | freshness p50 | p95 | max | probes | loader drains backlog at |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const name of ADAPTERS) {
    if (!(await serverAnswers(name))) {
      progress(`${name}: server unreachable, skipped`);
      lines.push(`| ${name} | skipped: server unreachable | | | | | |`);
      rec.note(`${name}: not run, its server is unreachable.`);
      continue;
    }
    const env: Record<string, string> = { WEIR_WAREHOUSE_ENGINE: name };
    if (name === 'postgres') env.WEIR_WAREHOUSE_URL = PG_URL;
    if (name === 'clickhouse') env.WEIR_WAREHOUSE_URL = CH_URL;
    const dir = mkdtempSync(join(tmpdir(), `weir-fresh-${name}-`));
    try {
      await resetSchema(name);
      progress(`${name}: freshness at ${RATE} events/s for ${SECONDS} s`);
      const f = await freshness(env, dir);
      await resetSchema(name);
      progress(`${name}: loader throughput over a backlog of ${BACKLOG} events`);
      const t = await loaderThroughput(env, dir);
      progress(`${name}: p50 ${f.p50.toFixed(0)} ms, p95 ${f.p95.toFixed(0)} ms; loader ${t.toFixed(0)} events/s`);
      rec.figure({ label: `${name}: acknowledged events/s (of ${RATE} offered)`, value: f.rate, unit: 'events/s' });
      rec.figure({ label: `${name}: ingest-to-queryable p50`, value: f.p50, unit: 'ms' });
      rec.figure({ label: `${name}: ingest-to-queryable p95`, value: f.p95, unit: 'ms', ...atMost(f.p95, 2000, 'ms') });
      rec.figure({ label: `${name}: ingest-to-queryable max (${f.probes} probes)`, value: f.max, unit: 'ms' });
      rec.figure({ label: `${name}: loader drains a backlog at`, value: t, unit: 'events/s' });
      lines.push(`| ${name} | ${RATE} → ${f.rate.toFixed(0)} | ${f.p50.toFixed(0)} ms | ${f.p95.toFixed(0)} ms | ${f.max.toFixed(0)} ms | ${f.probes} | ${t.toFixed(0)} events/s |`);
    } finally {
      await resetSchema(name).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }
  lines.push('', 'Target: freshness p95 ≤ 2 s.');
  process.stdout.write(`${lines.join('\n')}\n`);
  rec.finish();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
