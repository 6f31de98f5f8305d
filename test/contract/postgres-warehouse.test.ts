import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../../src/errors/catalogue.js';
import { openPostgresWarehouse, type PgClientLike, type PgPoolLike } from '../../src/warehouse/postgres/index.js';
import type { ColumnSpec, TableRef, Value, Warehouse } from '../../src/warehouse/warehouse.js';
import { warehouseContract, type WarehouseFixture } from './warehouse.contract.js';
import { POSTGRES_URL, postgresFixture } from '../helpers/warehouse-fixtures.js';

const URL = POSTGRES_URL;

warehouseContract('postgres', postgresFixture);

function isCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof WeirError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('Postgres warehouse', () => {
  let fx: (WarehouseFixture & { schemas: Set<string> }) | undefined;
  let skip: string | undefined;
  const schema = `pgwh${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const t = (table: string): TableRef => ({ schema, table });

  before(async () => {
    const r = await postgresFixture();
    if ('skip' in r) {
      if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error(`postgres is required but unavailable: ${r.skip}`);
      skip = r.skip;
      return;
    }
    fx = r;
    await fx.warehouse.ensureSchema(schema);
  });
  after(async () => {
    await fx?.cleanup();
  });

  const withServer = (title: string, fn: (wh: Warehouse, ctx: TestContext) => Promise<void>) =>
    it(title, async (ctx) => {
      if (!fx) return ctx.skip(skip ?? 'no warehouse');
      await fn(fx.warehouse, ctx);
    });

  it('an unreachable server is WEIR_WAREHOUSE_UNAVAILABLE, retriable', async () => {
    const wh = await openPostgresWarehouse({ url: 'postgres://postgres@127.0.0.1:1/test' });
    try {
      await assert.rejects(wh.ping(), isCode('WEIR_WAREHOUSE_UNAVAILABLE'));
      const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }];
      await assert.rejects(wh.write({ schema: 'web', table: 'pages' }, c, [['a']], 'insert', 'id'), (err: unknown) => {
        assert.ok(err instanceof WeirError && err.code === 'WEIR_WAREHOUSE_UNAVAILABLE' && err.retriable, String(err));
        return true;
      });
      await assert.rejects(wh.query('select 1', { schema: 'web', timeoutMs: 1000, maxRows: 1 }), isCode('WEIR_WAREHOUSE_UNAVAILABLE'));
    } finally {
      await wh.close();
    }
  });

  it('a server that stops answering mid-query: the query ends after the timeout and the connection is dropped', async () => {
    const released: Array<Error | boolean | undefined> = [];
    // A connection that accepts the transaction setup and then never answers again.
    const client: PgClientLike = {
      query: async (config) => (config.text.startsWith('BEGIN') ? { rows: [], fields: [] } : new Promise(() => {})),
      release: (err) => void released.push(err),
      on: () => client,
      removeListener: () => client,
    };
    const pool: PgPoolLike = { connect: async () => client, end: async () => {} };
    const wh = await openPostgresWarehouse({ url: 'postgres://unused', pool });
    const started = Date.now();
    await assert.rejects(wh.query('select 1', { schema: 'web', timeoutMs: 100, maxRows: 1 }), isCode('WEIR_QUERY_TIMEOUT'));
    assert.ok(Date.now() - started < 4000, 'bounded wait');
    assert.equal(released.length, 1);
    assert.ok(released[0] instanceof Error, 'discarded, not returned to the pool');
    await wh.close();
  });

  withServer('a write the server refuses is WEIR_WAREHOUSE_FAILED, not retriable', async (wh) => {
    const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }];
    await assert.rejects(wh.write(t('missing_table'), c, [['a']], 'insert', 'id'), (err: unknown) => {
      assert.ok(err instanceof WeirError && err.code === 'WEIR_WAREHOUSE_FAILED' && !err.retriable, String(err));
      assert.match(err.message, /missing_table/);
      return true;
    });
  });

  withServer('writes 10k rows in one call, and upserts them again', async (wh, ctx) => {
    const c: ColumnSpec[] = [
      { name: 'id', type: 'varchar' },
      { name: 'received_at', type: 'timestamp' },
      { name: 'n', type: 'bigint' },
      { name: 'price', type: 'double' },
      { name: 'ok', type: 'boolean' },
      { name: 'context_page_url', type: 'varchar' },
    ];
    await wh.createTable(t('bulk'), c, 'id');
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const rows = Array.from({ length: 10_000 }, (_, i): Value[] => [
      `m${i}`,
      new Date(base + i),
      i,
      i / 4,
      i % 2 === 0,
      `https://example.com/p/${i}?q="x"`,
    ]);
    const started = performance.now();
    await wh.write(t('bulk'), c, rows, 'insert', 'id');
    const ms = performance.now() - started;
    ctx.diagnostic(`10k-row insert: ${ms.toFixed(0)} ms, ${Math.round(10_000 / (ms / 1000))} rows/s`);
    const upserted = performance.now();
    await wh.write(t('bulk'), c, rows.map((r) => [r[0] ?? null, r[1] ?? null, 7, 0.5, null, 'u']), 'upsert', 'id');
    const upsertMs = performance.now() - upserted;
    ctx.diagnostic(`10k-row upsert: ${upsertMs.toFixed(0)} ms, ${Math.round(10_000 / (upsertMs / 1000))} rows/s`);
    const r = await wh.query('select count(*), count(distinct id), sum(n), min(received_at), max(received_at), count(ok) from bulk', {
      schema,
      timeoutMs: 10_000,
      maxRows: 10,
    });
    assert.deepEqual(r.rows, [[10_000, 10_000, 70_000, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:09.999Z', 0]]);
  });

  withServer('creating the same schema and table from several connections at once succeeds', async () => {
    const opened = await Promise.all(Array.from({ length: 6 }, () => openPostgresWarehouse({ url: URL })));
    const raced = `${schema}_race`;
    fx?.schemas.add(raced);
    try {
      const c: ColumnSpec[] = [{ name: 'id', type: 'varchar' }, { name: 'v', type: 'bigint' }];
      await Promise.all(opened.map((w) => w.ensureSchema(raced)));
      await Promise.all(opened.map((w) => w.createTable({ schema: raced, table: 'tracks' }, c, 'id')));
      await Promise.all(opened.map((w, i) => w.addColumns({ schema: raced, table: 'tracks' }, [{ name: 'extra', type: 'varchar' }, { name: `x${i}`, type: 'double' }])));
      const d = (await opened[0]!.describe(raced)).get('tracks');
      assert.equal(d?.size, 3 + opened.length);
    } finally {
      await Promise.all(opened.map((w) => w.close()));
    }
  });

  withServer('query results: types named, large integers as strings, numerics as numbers', async (wh) => {
    const r = await wh.query(
      "select 9007199254740993::int8 as big, 42::int8 as small, 1.25::numeric as num, timestamptz '2026-11-22 11:11:12.345678+01' as at, date '2026-02-03' as day, '{\"a\":1}'::jsonb as j;",
      { schema, timeoutMs: 5000, maxRows: 10 },
    );
    assert.deepEqual(r.columns, [
      { name: 'big', type: 'bigint' },
      { name: 'small', type: 'bigint' },
      { name: 'num', type: 'numeric' },
      { name: 'at', type: 'timestamp with time zone' },
      { name: 'day', type: 'date' },
      { name: 'j', type: 'jsonb' },
    ]);
    assert.deepEqual(r.rows, [['9007199254740993', 42, 1.25, '2026-11-22T10:11:12.345Z', '2026-02-03', { a: 1 }]]);
  });

  withServer('several statements, transaction control and data-modifying WITH are refused', async (wh) => {
    const o = { schema, timeoutMs: 5000, maxRows: 10 };
    await assert.rejects(wh.query('select 1; select 2', o), isCode('WEIR_QUERY_FAILED'));
    await assert.rejects(wh.query('commit; drop schema public cascade', o), isCode('WEIR_QUERY_READ_ONLY'));
    await assert.rejects(wh.query('/* hi */ -- there\n  UPDATE bulk SET n = 0', o), isCode('WEIR_QUERY_READ_ONLY'));
    await assert.rejects(wh.query('with d as (delete from bulk returning id) select * from d', o), isCode('WEIR_QUERY_READ_ONLY'));
    await assert.rejects(wh.query("select set_config('search_path', 'public', false), nextval('nope_seq')", o), isCode('WEIR_QUERY_FAILED'));
    // The connections went back to the pool clean: the schema is still first on the path.
    for (let i = 0; i < 12; i++) assert.deepEqual((await wh.query('select (current_schemas(false))[1]', o)).rows, [[schema]]);
  });

  withServer('identifiers longer than Postgres keeps are refused, not truncated', async (wh) => {
    await assert.rejects(
      wh.createTable(t('e'.repeat(64)), [{ name: 'id', type: 'varchar' }], 'id'),
      isCode('WEIR_WAREHOUSE_FAILED'),
    );
  });
});
