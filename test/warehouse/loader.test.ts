import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileEventLog } from '../../src/log/file/index.js';
import type { EventLog, LogWriter } from '../../src/log/event-log.js';
import { processIngest } from '../../src/collector/ingest.js';
import { WAREHOUSE_FIXTURES } from '../helpers/warehouse-fixtures.js';
import { WAREHOUSE_GROUP } from '../../src/warehouse/loader.js';
import { loadUntilCaughtUp } from '../helpers/load-log.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';

const limits = { maxDepth: 32, maxProperties: 2000, maxEventBytes: 32768, maxBatchItems: 2500 };

/** Sends a batch through the collector's own step chain into the log, as `weir up` would. */
async function ingest(writer: LogWriter, sourceId: string, batch: object[]): Promise<void> {
  const out = processIngest('batch', { batch }, sourceId, { receivedAt: new Date('2026-11-22T12:00:00Z') }, limits);
  assert.deepEqual(out.rejected, []);
  await writer.append(out.records);
}

/** Runs the loader until it has caught up with the log, then stops it. */
async function loadAll(log: EventLog, warehouse: Warehouse, schemas: { web: string; app: string }): Promise<void> {
  await loadUntilCaughtUp(log, warehouse, async (sourceId) => (sourceId === 'src_web' ? schemas.web : schemas.app));
}

async function q(wh: Warehouse, schema: string, sql: string): Promise<unknown[][]> {
  return (await wh.query(sql, { schema, timeoutMs: 10_000, maxRows: 1000 })).rows;
}

for (const { name, open } of WAREHOUSE_FIXTURES) {
test(`loader on ${name}: Segment tables, schema evolution, discards, users upsert, replay without duplicates`, async (ctx) => {
  const fx = await open();
  if ('skip' in fx) {
    if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error(`${name} is required: ${fx.skip}`);
    return ctx.skip(fx.skip);
  }
  const { warehouse } = fx;
  // Unique per run: Postgres and ClickHouse are shared servers.
  const tag = `l${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const schemas = { web: `${tag}_web`, app: `${tag}_app` };
  const dir = mkdtempSync(join(tmpdir(), 'weir-loader-'));
  const log = await openFileEventLog({ dir: join(dir, 'log') });
  const writer = await log.openWriter(0);
  try {
    await ingest(writer, 'src_web', [
      { type: 'track', event: 'Order Completed', userId: 'u1', messageId: 'o1', properties: { total: 10, currency: 'EUR' } },
      { type: 'track', event: 'Order Completed', userId: 'u2', messageId: 'o2', properties: { total: 12.5 } },
      { type: 'page', anonymousId: 'a1', messageId: 'p1', name: 'Home', properties: { path: '/' }, context: { page: { url: 'https://x/' } } },
      { type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'u1@x', plan: 'free' } },
      { type: 'identify', userId: 'u1', messageId: 'i2', traits: { plan: 'pro' } },
    ]);
    await ingest(writer, 'src_app', [{ type: 'screen', userId: 'u9', messageId: 's1', name: 'Main' }]);
    await loadAll(log, warehouse, schemas);

    assert.deepEqual(await q(warehouse, schemas.web, 'select id, event, event_text, user_id from tracks order by id'), [
      ['o1', 'order_completed', 'Order Completed', 'u1'],
      ['o2', 'order_completed', 'Order Completed', 'u2'],
    ]);
    // total was 10 then 12.5 in one batch: the new column is made wide enough for both.
    assert.deepEqual(await q(warehouse, schemas.web, 'select id, total, currency from order_completed order by id'), [
      ['o1', 10, 'EUR'],
      ['o2', 12.5, null],
    ]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select id, name, path, context_page_url from pages'), [['p1', 'Home', '/', 'https://x/']]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select id, email, plan from users'), [['u1', 'u1@x', 'pro']]);
    assert.deepEqual(await q(warehouse, schemas.app, 'select id, name from screens'), [['s1', 'Main']]);
    assert.equal((await warehouse.describe(schemas.app)).has('tracks'), false, 'a source gets only the tables its events need');

    // New properties add columns; a value that conflicts with its column goes to the discards.
    await ingest(writer, 'src_web', [
      { type: 'track', event: 'Order Completed', userId: 'u3', messageId: 'o3', properties: { total: 'lots', coupon: 'WINTER' } },
      { type: 'identify', userId: 'u1', messageId: 'i3', traits: { seats: 3 } },
    ]);
    await loadAll(log, warehouse, schemas);
    assert.deepEqual(await q(warehouse, schemas.web, "select id, total, coupon from order_completed where id = 'o3'"), [['o3', null, 'WINTER']]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select table_name, column_name, value, message_id from weir_discards'), [
      ['order_completed', 'total', '"lots"', 'o3'],
    ]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select id, email, plan, seats from users'), [['u1', 'u1@x', 'pro', 3]], 'upsert keeps traits not sent again');

    // Replay the whole log: nothing doubles.
    const consumer = await log.consumer(WAREHOUSE_GROUP);
    await consumer.commit(new Map([[0, 0]]));
    await consumer.close();
    await loadAll(log, warehouse, schemas);
    assert.deepEqual(await q(warehouse, schemas.web, 'select count(*) from tracks'), [[3]]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select count(*) from order_completed'), [[3]]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select count(*) from identifies'), [[3]]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select count(*) from weir_discards'), [[1]]);
    assert.deepEqual(await q(warehouse, schemas.web, 'select count(*) from users'), [[1]]);
  } finally {
    await writer.close();
    await log.close();
    await fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
}
