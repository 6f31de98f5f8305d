import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { encodeAcceptedRecord } from '../../src/events/log-record.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { eventFileKey } from '../../src/lake/lake-layout.js';
import { LAKE_GROUP } from '../../src/lake/lake-writer.js';
import { enforceRetention, retentionCutoff } from '../../src/lake/retention.js';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/index.js';
import { WAREHOUSE_GROUP } from '../../src/warehouse/loader.js';

test('retention: the warehouse keeps its hot days, the lake its cold days, per source', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-retention-'));
  const state = await openSqliteStateStore({ file: join(dir, 'weir.sqlite') });
  const blob = await openBlobStore({ kind: 'fs', dir: join(dir, 'lake') }, { dataDir: dir });
  const warehouse = await openDuckDbWarehouse({ file: ':memory:' });
  try {
    const { source, workspace } = await state.bootstrap();
    const other = await state.createSource({ workspaceId: workspace.id, name: 'forever' });
    await state.updateSourceSettings(source.id, { warehouseRetentionDays: 7, lakeRetentionDays: 30 });
    const now = new Date('2026-11-22T12:00:00Z');
    assert.equal(retentionCutoff(now, 1).toISOString(), '2026-11-22T00:00:00.000Z');

    // Lake: files of two dates for each source.
    for (const s of [source, other]) {
      for (const date of ['2026-10-01', '2026-11-20']) {
        const key = eventFileKey({ sourceId: s.id, date, hour: '00' }, 0, 0, 1);
        await blob.put(key, Buffer.from('PAR1'));
        await state.putLakeFile({ key, sourceId: s.id, workspaceId: workspace.id, kind: 'events', date, partition: 0, firstOffset: 0, lastOffset: 1, events: 2, bytes: 4, state: 'stored', createdAt: now });
      }
    }
    // Warehouse: an event table with old and new rows, and users (identities, never aged out).
    const schemaOf = async (id: string) => (id === source.id ? 'hot' : 'keep');
    for (const schema of ['hot', 'keep']) {
      await warehouse.ensureSchema(schema);
      const cols = [{ name: 'id', type: 'varchar' as const }, { name: 'timestamp', type: 'timestamp' as const }];
      await warehouse.createTable({ schema, table: 'tracks' }, cols, 'id');
      await warehouse.write({ schema, table: 'tracks' }, cols, [['old', new Date('2026-11-01T00:00:00Z')], ['new', new Date('2026-11-21T00:00:00Z')]], 'insert', 'id');
      await warehouse.createTable({ schema, table: 'users' }, cols, 'id');
      await warehouse.write({ schema, table: 'users' }, cols, [['u1', new Date('2020-01-01T00:00:00Z')]], 'upsert', 'id');
    }

    const r = await enforceRetention({ state, blob, warehouse, schemaOf, now });
    assert.deepEqual(r, { lakeFilesDeleted: 1, lakeBytesDeleted: 4, warehouseTables: 1 });
    const keys: string[] = [];
    for await (const o of blob.list('')) keys.push(o.key);
    assert.equal(keys.length, 3);
    assert.ok(!keys.some((k) => k.startsWith(`source=${source.id}/date=2026-10-01`)));
    assert.deepEqual((await state.listLakeFiles({ sourceId: source.id })).map((f) => f.date), ['2026-11-20']);
    const q = (sql: string, schema: string) => warehouse.query(sql, { schema, timeoutMs: 5000, maxRows: 10 }).then((x) => x.rows);
    assert.deepEqual(await q('select id from tracks order by id', 'hot'), [['new']]);
    assert.deepEqual(await q('select id from tracks order by id', 'keep'), [['new'], ['old']]);
    assert.deepEqual(await q('select id from users', 'hot'), [['u1']]);
  } finally {
    await warehouse.close();
    await blob.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the event log keeps a segment until both the lake and the warehouse have passed it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-retention-log-'));
  const log = await openFileEventLog({ dir, segmentBytes: 4096 });
  try {
    const writer = await log.openWriter(0);
    for (let i = 0; i < 200; i++) await writer.append([encodeAcceptedRecord('src', { type: 'track', event: 'E', messageId: `m${i}`, properties: { pad: 'x'.repeat(100) } })]);
    const lake = await log.consumer(LAKE_GROUP);
    const wh = await log.consumer(WAREHOUSE_GROUP);
    await wh.commit(new Map([[0, 200]]));
    await lake.commit(new Map([[0, 50]]));
    await writer.enforceRetention(0);
    const first = (await log.stats())[0]!.firstOffset;
    assert.ok(first <= 50, `a segment the lake has not passed was deleted (first offset ${first})`);
    assert.ok(first > 0, 'segments both have passed are deleted');
    await lake.commit(new Map([[0, 200]]));
    await writer.enforceRetention(0);
    assert.ok((await log.stats())[0]!.firstOffset > 150);
    await lake.close();
    await wh.close();
    await writer.close();
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
