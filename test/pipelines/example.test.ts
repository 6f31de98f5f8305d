import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { processIngest } from '../../src/collector/ingest.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { backfillPartitions } from '../../src/pipelines/runner/plan.js';
import { openPostgresWarehouse } from '../../src/warehouse/postgres/index.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';
import { sqliteStoreFixture } from '../helpers/pipeline-fixtures.js';
import { runToEnd, taskStates } from '../helpers/pipeline-project.js';
import { duckDbFixture, POSTGRES_URL } from '../helpers/warehouse-fixtures.js';
import { loadUntilCaughtUp } from '../helpers/load-log.js';

/** The shipped example, exactly as users get it. */
const EXAMPLE = fileURLToPath(new URL('../../../examples/pipelines/web', import.meta.url));

const page = (anon: string, at: string, path: string, pv: string) => ({
  type: 'page',
  anonymousId: anon,
  timestamp: at,
  properties: { page_view_id: pv },
  context: { page: { path, url: `https://example.com${path}` } },
});
const ping = (anon: string, at: string, path: string, pv: string, engaged: number, total: number, scroll: number) => ({
  type: 'track',
  event: 'Page Ping',
  anonymousId: anon,
  timestamp: at,
  properties: { page_view_id: pv, engaged_seconds: engaged, total_engaged_seconds: total, max_scroll_depth: scroll },
  context: { page: { path, url: `https://example.com${path}` } },
});

/**
 * Two visitors over two days. a1 reads /home and /pricing, leaves for 50 minutes and comes back
 * (a second session); b1 reads /pricing late on day 1 and pings again after midnight (a session
 * of its own on day 2: sessions are cut at midnight), then lands on /home and signs up.
 */
const EVENTS = [
  page('a1', '2026-03-02T09:00:00.000Z', '/home', 'pvA1'),
  ping('a1', '2026-03-02T09:00:15.000Z', '/home', 'pvA1', 10, 10, 40),
  ping('a1', '2026-03-02T09:00:30.000Z', '/home', 'pvA1', 12, 22, 80),
  page('a1', '2026-03-02T09:10:00.000Z', '/pricing', 'pvA2'),
  ping('a1', '2026-03-02T09:10:15.000Z', '/pricing', 'pvA2', 15, 15, 30),
  page('a1', '2026-03-02T10:00:00.000Z', '/home', 'pvA3'),
  ping('a1', '2026-03-02T10:00:15.000Z', '/home', 'pvA3', 5, 5, 100),
  page('b1', '2026-03-02T23:50:00.000Z', '/pricing', 'pvB1'),
  ping('b1', '2026-03-02T23:50:15.000Z', '/pricing', 'pvB1', 14, 14, 50),
  ping('b1', '2026-03-03T00:05:00.000Z', '/pricing', 'pvB1', 9, 23, 60),
  page('b1', '2026-03-03T08:00:00.000Z', '/home', 'pvB2'),
  ping('b1', '2026-03-03T08:00:15.000Z', '/home', 'pvB2', 15, 15, 20),
  { type: 'track', event: 'Signed Up', anonymousId: 'b1', timestamp: '2026-03-03T08:05:00.000Z', context: { page: { path: '/home' } } },
];

const epoch = (iso: string) => Date.parse(iso) / 1000;

/** Worked out by hand from EVENTS. */
const SESSIONS = [
  // id, anonymous_id, started_at, ended_at, duration_s, page_views, events, landing_path
  [`a1-${epoch('2026-03-02T09:00:00Z')}`, 'a1', '2026-03-02T09:00:00.000Z', '2026-03-02T09:10:15.000Z', 615, 2, 5, '/home'],
  [`a1-${epoch('2026-03-02T10:00:00Z')}`, 'a1', '2026-03-02T10:00:00.000Z', '2026-03-02T10:00:15.000Z', 15, 1, 2, '/home'],
  [`b1-${epoch('2026-03-02T23:50:00Z')}`, 'b1', '2026-03-02T23:50:00.000Z', '2026-03-02T23:50:15.000Z', 15, 1, 2, '/pricing'],
  [`b1-${epoch('2026-03-03T00:05:00Z')}`, 'b1', '2026-03-03T00:05:00.000Z', '2026-03-03T00:05:00.000Z', 0, 0, 1, null],
  [`b1-${epoch('2026-03-03T08:00:00Z')}`, 'b1', '2026-03-03T08:00:00.000Z', '2026-03-03T08:05:00.000Z', 300, 1, 3, '/home'],
];

const PAGE_ENGAGEMENT = [
  // day, page_path, engaged_views, visitors, engaged_seconds, avg_engaged_seconds, avg_scroll_depth, entrances
  ['2026-03-02T00:00:00.000Z', '/home', 2, 1, 27, 13.5, 90, 2], // pvA1: 10+12 s, 80 %; pvA3: 5 s, 100 %
  ['2026-03-02T00:00:00.000Z', '/pricing', 2, 2, 29, 14.5, 40, 1], // pvA2: 15 s, 30 %; pvB1: 14 s, 50 %
  ['2026-03-03T00:00:00.000Z', '/home', 1, 1, 15, 15, 20, 1], // pvB2
  ['2026-03-03T00:00:00.000Z', '/pricing', 1, 1, 9, 9, 60, 0], // pvB1's ping after midnight; its session has no page
];

/** Loads EVENTS through the collector's steps, the log and the real loader into schema `web`. */
async function loadEvents(warehouse: Warehouse): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-example-'));
  const log = await openFileEventLog({ dir: join(dir, 'log') });
  const writer = await log.openWriter(0);
  try {
    const limits = { maxDepth: 32, maxProperties: 2000, maxEventBytes: 32768, maxBatchItems: 2500 };
    const out = processIngest('batch', { batch: EVENTS }, 'src_web', { receivedAt: new Date('2026-03-03T12:00:00Z') }, limits);
    assert.deepEqual(out.rejected, []);
    await writer.append(out.records);
    await loadUntilCaughtUp(log, warehouse, async () => 'web');
  } finally {
    await writer.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkExample(warehouse: Warehouse): Promise<void> {
  await loadEvents(warehouse);
  const fx = await sqliteStoreFixture();
  try {
    const ctx = { store: fx.store, warehouse, dir: EXAMPLE };
    const request = { models: ['sessions', 'page_engagement'], partitions: backfillPartitions(new Date('2026-03-02'), new Date('2026-03-03')), stopOnFailure: true };
    const q = async (sql: string) => (await warehouse.query(sql, { schema: 'analytics', timeoutMs: 10_000, maxRows: 100 })).rows;
    // Twice: a second run of the same days replaces their rows and changes nothing.
    for (let round = 0; round < 2; round++) {
      const run = await runToEnd(ctx, request, { sourceSchema: 'web' });
      assert.deepEqual(taskStates(run), {
        'sessions@2026-03-02': 'succeeded',
        'page_engagement@2026-03-02': 'succeeded',
        'sessions@2026-03-03': 'succeeded',
        'page_engagement@2026-03-03': 'succeeded',
      });
      assert.deepEqual(run.tasks.map((t) => t.warnings), [0, 0, 0, 0]);
      const sessions = await q(
        'select session_id, anonymous_id, started_at, ended_at, duration_s, page_views, events, landing_path from sessions order by started_at',
      );
      assert.deepEqual(sessions.map((r) => r.map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v))), SESSIONS);
      const engagement = await q(
        'select day, page_path, engaged_views, visitors, engaged_seconds, avg_engaged_seconds, avg_scroll_depth, entrances from page_engagement order by day, page_path',
      );
      assert.deepEqual(engagement.map((r) => r.map((v) => (typeof v === 'string' && /^[\d.]+$/.test(v) ? Number(v) : v))), PAGE_ENGAGEMENT);
    }
    const checks = await fx.store.listCheckResults({ model: 'page_engagement' });
    assert.ok(checks.length >= 8);
    assert.ok(checks.every((c) => c.status === 'pass'), JSON.stringify(checks.filter((c) => c.status !== 'pass')));
  } finally {
    await fx.cleanup();
  }
}

test('the example pipeline on DuckDB: sessions and page engagement as worked out by hand', async () => {
  const wh = await duckDbFixture();
  try {
    await checkExample(wh.warehouse);
  } finally {
    await wh.cleanup();
  }
});

test('the example pipeline on Postgres gives the same figures', async (ctx) => {
  const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    if (process.env.WEIR_REQUIRE_SERVICES === '1') throw err;
    return ctx.skip(`PostgreSQL at 127.0.0.1:5432 unreachable: ${(err as Error).message}`);
  }
  // A database of its own: the example names the schema `web`, which other runs may share.
  const database = `weir_example_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  await admin.query(`create database ${database}`);
  const warehouse = await openPostgresWarehouse({ url: POSTGRES_URL.replace(/\/test$/, `/${database}`) });
  try {
    await checkExample(warehouse);
  } finally {
    await warehouse.close();
    await admin.query(`drop database ${database} with (force)`);
    await admin.end();
  }
});
