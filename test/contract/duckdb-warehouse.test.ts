import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../../src/errors/catalogue.js';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/index.js';
import type { ColumnSpec, TableRef, Value } from '../../src/warehouse/warehouse.js';
import { warehouseContract } from './warehouse.contract.js';
import { duckDbFixture } from '../helpers/warehouse-fixtures.js';

warehouseContract('duckdb', duckDbFixture);

const opts = { schema: 'web', timeoutMs: 10_000, maxRows: 100_000 };
const web = (table: string): TableRef => ({ schema: 'web', table });

/** Rejects with a WeirError of one of these codes. */
async function refused(promise: Promise<unknown>, ...codes: string[]): Promise<WeirError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof WeirError, String(caught));
  assert.ok(codes.includes(caught.code), `${caught.code}: ${caught.message}`);
  return caught;
}

describe('DuckDB warehouse', () => {
  it('refuses file access from console SQL', async () => {
    const fx = await duckDbFixture();
    try {
      await fx.warehouse.ensureSchema('web');
      const err = await refused(fx.warehouse.query("select * from read_csv('/etc/passwd')", opts), 'WEIR_QUERY_READ_ONLY');
      assert.match(err.message, /disabled/);
      await refused(fx.warehouse.query("select * from read_text('/etc/passwd')", opts), 'WEIR_QUERY_READ_ONLY');
      await refused(fx.warehouse.query("select * from '/etc/passwd'", opts), 'WEIR_QUERY_READ_ONLY', 'WEIR_QUERY_FAILED');
      for (const sql of [
        "copy (select 1) to '/tmp/weir-escape.csv'",
        "attach '/tmp/weir-escape.duckdb'",
        'set enable_external_access = true',
        'install httpfs',
        'select 1; select 2',
      ]) {
        await refused(fx.warehouse.query(sql, opts), 'WEIR_QUERY_READ_ONLY', 'WEIR_QUERY_FAILED');
      }
    } finally {
      await fx.cleanup();
    }
  });

  it('keeps the data when the file is closed and opened again', async () => {
    const fx = await duckDbFixture();
    const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }, { name: 'sent_at', type: 'timestamp' }];
    try {
      await fx.warehouse.ensureSchema('web');
      await fx.warehouse.createTable(web('tracks'), c, 'id');
      await fx.warehouse.write(web('tracks'), c, [['m1', new Date('2026-01-02T03:04:05.678Z')]], 'insert', 'id');
      await fx.warehouse.close();
      const again = await openDuckDbWarehouse({ file: fx.file });
      try {
        assert.deepEqual((await again.describe('web')).get('tracks'), new Map([['id', 'varchar'], ['sent_at', 'timestamp']]));
        assert.deepEqual((await again.query('select id, sent_at from tracks', opts)).rows, [['m1', '2026-01-02T03:04:05.678Z']]);
        // Still idempotent across the reopen.
        await again.write(web('tracks'), c, [['m1', null], ['m2', null]], 'insert', 'id');
        assert.deepEqual((await again.query('select count(*) from tracks', opts)).rows, [[2]]);
      } finally {
        await again.close();
      }
    } finally {
      await fx.cleanup();
    }
  });

  it('writes 10k rows in one call, idempotently, and upserts them', async () => {
    const fx = await duckDbFixture();
    const c: ColumnSpec[] = [
      { name: 'id', type: 'varchar' },
      { name: 'received_at', type: 'timestamp' },
      { name: 'event', type: 'varchar' },
      { name: 'user_id', type: 'varchar' },
      { name: 'context_page_url', type: 'varchar' },
      { name: 'revenue', type: 'double' },
      { name: 'quantity', type: 'bigint' },
      { name: 'ok', type: 'boolean' },
    ];
    const now = Date.now();
    const rows = Array.from({ length: 10_000 }, (_, i): Value[] => [
      `m${i}`,
      new Date(now + i),
      'Order Completed',
      `u${i % 100}`,
      `https://example.com/p?i=${i}`,
      i / 4,
      i,
      i % 2 === 0,
    ]);
    try {
      await fx.warehouse.ensureSchema('web');
      await fx.warehouse.createTable(web('order_completed'), c, 'id');
      const started = performance.now();
      await fx.warehouse.write(web('order_completed'), c, rows, 'insert', 'id');
      const ms = performance.now() - started;
      console.log(`duckdb: wrote 10000 rows × ${c.length} columns in ${ms.toFixed(0)} ms (${Math.round(10_000 / (ms / 1000))} rows/s)`);
      await fx.warehouse.write(web('order_completed'), c, rows, 'insert', 'id');
      const count = 'select count(*), count(distinct id), sum(quantity), max(revenue) from order_completed';
      assert.deepEqual((await fx.warehouse.query(count, opts)).rows, [[10_000, 10_000, 49_995_000, 2499.75]]);

      const partial: ColumnSpec[] = [{ name: 'id', type: 'varchar' }, { name: 'event', type: 'varchar' }];
      await fx.warehouse.write(web('order_completed'), partial, rows.map((r) => [r[0] ?? null, 'Updated']), 'upsert', 'id');
      const updated = 'select count(*) filter (where event = \'Updated\'), count(received_at) from order_completed';
      assert.deepEqual((await fx.warehouse.query(updated, opts)).rows, [[10_000, 10_000]]);
    } finally {
      await fx.cleanup();
    }
  });

  it('a write that fails stores none of its rows', async () => {
    const fx = await duckDbFixture();
    const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }, { name: 'n', type: 'bigint' }];
    try {
      await fx.warehouse.ensureSchema('web');
      await fx.warehouse.createTable(web('t'), c, 'id');
      // A null key breaks the key's NOT NULL after the other rows were staged.
      await refused(fx.warehouse.write(web('t'), c, [['a', 1], [null, 2]], 'insert', 'id'), 'WEIR_WAREHOUSE_FAILED');
      await refused(fx.warehouse.write(web('t'), c, [['a', 1], ['b', 1.5]], 'insert', 'id'), 'WEIR_WAREHOUSE_FAILED');
      await refused(fx.warehouse.write(web('missing'), c, [['a', 1]], 'insert', 'id'), 'WEIR_WAREHOUSE_FAILED');
      assert.deepEqual((await fx.warehouse.query('select count(*) from t', opts)).rows, [[0]]);
      await fx.warehouse.write(web('t'), c, [['a', 1]], 'insert', 'id');
      assert.deepEqual((await fx.warehouse.query('select id, n from t', opts)).rows, [['a', 1]]);
    } finally {
      await fx.cleanup();
    }
  });

  it('serialises calls made without waiting, and answers JSON-friendly values', async () => {
    const fx = await duckDbFixture();
    const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }, { name: 'n', type: 'bigint' }];
    try {
      await fx.warehouse.ensureSchema('web');
      await fx.warehouse.createTable(web('t'), c, 'id');
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => fx.warehouse.write(web('t'), c, [[`k${i}`, i], [`k${i + 1}`, i + 1]], 'insert', 'id')),
        ...Array.from({ length: 20 }, () => fx.warehouse.query('select count(*) from t', opts)),
        fx.warehouse.ping(),
      ]);
      assert.deepEqual((await fx.warehouse.query('select count(*) from t', opts)).rows, [[21]]);

      const r = await fx.warehouse.query(
        `select 9007199254740993::bigint as big, 1.5 as dec, 'NaN'::double as nan, date '2026-01-02' as d,
                timestamp '2026-01-02 03:04:05.678' as ts, [1, 2] as l, {'a': 1} as s`,
        opts,
      );
      assert.deepEqual(r.rows, [['9007199254740993', 1.5, 'NaN', '2026-01-02', '2026-01-02T03:04:05.678Z', [1, 2], { a: 1 }]]);
      assert.deepEqual(r.columns[0], { name: 'big', type: 'BIGINT' });
    } finally {
      await fx.cleanup();
    }
  });

  it('answers WEIR_WAREHOUSE_UNAVAILABLE once closed', async () => {
    const fx = await duckDbFixture();
    try {
      await fx.warehouse.close();
      await refused(fx.warehouse.ping(), 'WEIR_WAREHOUSE_UNAVAILABLE');
      await refused(fx.warehouse.query('select 1', opts), 'WEIR_WAREHOUSE_UNAVAILABLE');
      await refused(fx.warehouse.ensureSchema('web'), 'WEIR_WAREHOUSE_UNAVAILABLE');
    } finally {
      await fx.cleanup();
    }
  });
});
