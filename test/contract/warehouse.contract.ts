import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../../src/errors/catalogue.js';
import type { ColumnSpec, TableRef, Value, Warehouse } from '../../src/warehouse/warehouse.js';

/** What an adapter's test file hands the contract. */
export interface WarehouseFixture {
  warehouse: Warehouse;
  /** A query that runs for several seconds on this engine, to test the timeout. */
  slowQuery: string;
  /** Smallest timestamp unit the engine keeps: ClickHouse's DateTime keeps whole seconds. */
  timestampPrecision: 'ms' | 's';
  cleanup(): Promise<void>;
}

/**
 * The cases every Warehouse adapter must pass. Call it from the adapter's test file with a
 * factory that returns a fresh, empty warehouse; when the engine is unreachable the factory
 * returns `{ skip: 'reason' }` and the suite is skipped with that reason (or fails when
 * WEIR_REQUIRE_SERVICES=1).
 *
 * @example
 * ```ts
 * warehouseContract('duckdb', async () => ({ warehouse: await openDuckDbWarehouse({ file }), ... }));
 * ```
 */
export function warehouseContract(name: string, factory: () => Promise<WarehouseFixture | { skip: string }>): void {
  describe(`Warehouse contract: ${name}`, () => {
    let fx: WarehouseFixture | undefined;
    let skip: string | undefined;
    // Schemas unique per run, so a shared server (Postgres, ClickHouse) can hold several runs.
    const tag = `c${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const schema = `${tag}_web`;
    const other = `${tag}_app`;
    const t = (table: string): TableRef => ({ schema, table });

    before(async () => {
      const r = await factory();
      if ('skip' in r) {
        if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error(`${name} is required but unavailable: ${r.skip}`);
        skip = r.skip;
        console.log(`SKIP ${name}: ${r.skip}`);
        return;
      }
      fx = r;
    });
    after(async () => {
      await fx?.cleanup();
    });

    const it = (title: string, fn: (wh: Warehouse, fx: WarehouseFixture) => Promise<void>) =>
      test(title, async (ctx) => {
        if (!fx) return ctx.skip(skip ?? 'no warehouse');
        await fn(fx.warehouse, fx);
      });

    const cols = (...specs: Array<[string, ColumnSpec['type']]>): ColumnSpec[] => specs.map(([n, type]) => ({ name: n, type }));

    async function rows(wh: Warehouse, sql: string, s = schema): Promise<unknown[][]> {
      return (await wh.query(sql, { schema: s, timeoutMs: 10_000, maxRows: 10_000 })).rows;
    }

    it('ping answers', async (wh) => {
      await wh.ping();
    });

    it('describe of a missing schema is empty; ensureSchema is idempotent', async (wh) => {
      assert.equal((await wh.describe(`${tag}_none`)).size, 0);
      await wh.ensureSchema(schema);
      await wh.ensureSchema(schema);
      await wh.ensureSchema(other);
    });

    it('createTable and addColumns are idempotent and describe reports Weir types', async (wh) => {
      const base = cols(['id', 'varchar'], ['received_at', 'timestamp'], ['n', 'bigint'], ['price', 'double'], ['ok', 'boolean']);
      await wh.createTable(t('tracks'), base, 'id');
      await wh.createTable(t('tracks'), base, 'id');
      await wh.addColumns(t('tracks'), cols(['context_page_url', 'varchar'], ['n', 'bigint']));
      await wh.addColumns(t('tracks'), cols(['context_page_url', 'varchar']));
      const d = (await wh.describe(schema)).get('tracks');
      assert.ok(d);
      assert.deepEqual(Object.fromEntries([...d].sort()), {
        context_page_url: 'varchar',
        id: 'varchar',
        n: 'bigint',
        ok: 'boolean',
        price: 'double',
        received_at: 'timestamp',
      });
    });

    it('values of every type round-trip; identifiers that are SQL keywords work', async (wh, f) => {
      const c = cols(['id', 'varchar'], ['timestamp', 'timestamp'], ['order', 'bigint'], ['select', 'double'], ['user', 'boolean'], ['text', 'varchar']);
      await wh.createTable(t('typed'), c, 'id');
      const when = new Date('2026-11-22T10:11:12.345Z');
      const text = `quote ' double " backslash \\ newline \n unicode ✓ 😀 nul-free`;
      await wh.write(t('typed'), c, [['a', when, 9007199254740991, 1.5, true, text], ['b', null, -3, -0.25, false, null]], 'insert', 'id');
      const got = await rows(wh, 'select id, "timestamp", "order", "select", "user", "text" from typed order by id');
      const expectedTime = f.timestampPrecision === 's' ? '2026-11-22T10:11:12.000Z' : '2026-11-22T10:11:12.345Z';
      assert.deepEqual(got[0], ['a', expectedTime, 9007199254740991, 1.5, true, text]);
      assert.deepEqual(got[1], ['b', null, -3, -0.25, false, null]);
    });

    it('insert is idempotent by key: a replayed row and an in-call duplicate make one row each', async (wh) => {
      const c = cols(['id', 'varchar'], ['event', 'varchar']);
      await wh.createTable(t('order_completed'), c, 'id');
      await wh.write(t('order_completed'), c, [['m1', 'first'], ['m2', 'x'], ['m2', 'x again']], 'insert', 'id');
      await wh.write(t('order_completed'), c, [['m1', 'replayed'], ['m3', 'y']], 'insert', 'id');
      const got = await rows(wh, 'select id, count(*) as n from order_completed group by id order by id');
      assert.deepEqual(got, [['m1', 1], ['m2', 1], ['m3', 1]]);
      const first = await rows(wh, "select event from order_completed where id = 'm1'");
      assert.deepEqual(first, [['first']], 'the stored row is kept, not replaced');
    });

    it('upsert replaces the listed columns of an existing key and keeps the others', async (wh) => {
      const c = cols(['id', 'varchar'], ['email', 'varchar'], ['plan', 'varchar'], ['seats', 'bigint']);
      await wh.createTable(t('users'), c, 'id');
      await wh.write(t('users'), c, [['u1', 'a@x', 'free', 1], ['u2', 'b@x', 'pro', 5]], 'upsert', 'id');
      const partial = cols(['id', 'varchar'], ['plan', 'varchar']);
      await wh.write(t('users'), partial, [['u1', 'pro'], ['u3', 'team']], 'upsert', 'id');
      await wh.write(t('users'), partial, [['u1', 'enterprise'], ['u1', 'business']], 'upsert', 'id');
      const got = await rows(wh, 'select id, email, plan, seats from users order by id');
      assert.deepEqual(got, [
        ['u1', 'a@x', 'business', 1],
        ['u2', 'b@x', 'pro', 5],
        ['u3', null, 'team', null],
      ]);
    });

    it('a write that lists fewer columns leaves the others null', async (wh) => {
      const c = cols(['id', 'varchar'], ['a', 'varchar'], ['b', 'double']);
      await wh.createTable(t('pages'), c, 'id');
      await wh.write(t('pages'), cols(['id', 'varchar'], ['b', 'double']), [['p1', 2.5]], 'insert', 'id');
      assert.deepEqual(await rows(wh, 'select id, a, b from pages'), [['p1', null, 2.5]]);
    });

    it('queries read the schema first and other schemas only when qualified', async (wh) => {
      const c = cols(['id', 'varchar']);
      await wh.createTable({ schema: other, table: 'pages' }, c, 'id');
      await wh.write({ schema: other, table: 'pages' }, c, [['other-1'], ['other-2']], 'insert', 'id');
      assert.deepEqual(await rows(wh, 'select count(*) as n from pages', other), [[2]]);
      assert.deepEqual(await rows(wh, 'select count(*) as n from pages', schema), [[1]]);
    });

    it('maxRows truncates and says so', async (wh) => {
      const c = cols(['id', 'varchar']);
      await wh.createTable(t('many'), c, 'id');
      await wh.write(t('many'), c, Array.from({ length: 25 }, (_, i): Value[] => [`k${String(i).padStart(2, '0')}`]), 'insert', 'id');
      const r = await wh.query('select id from many order by id', { schema, timeoutMs: 10_000, maxRows: 10 });
      assert.equal(r.rows.length, 10);
      assert.equal(r.truncated, true);
      assert.deepEqual(r.columns.map((x) => x.name), ['id']);
      const all = await wh.query('select id from many', { schema, timeoutMs: 10_000, maxRows: 100 });
      assert.equal(all.truncated, false);
    });

    it('SQL errors are WEIR_QUERY_FAILED with the engine message; writes are refused', async (wh) => {
      await assert.rejects(wh.query('select nope from nowhere_at_all', { schema, timeoutMs: 5000, maxRows: 10 }), (err: unknown) => {
        assert.ok(err instanceof WeirError);
        assert.equal(err.code, 'WEIR_QUERY_FAILED');
        assert.ok(err.message.length > 'query failed: '.length);
        return true;
      });
      for (const sql of ["insert into pages (id) values ('x')", 'drop table pages', 'create table evil (x int)', 'delete from pages']) {
        await assert.rejects(wh.query(sql, { schema, timeoutMs: 5000, maxRows: 10 }), (err: unknown) => {
          assert.ok(err instanceof WeirError, sql);
          assert.ok(err.code === 'WEIR_QUERY_READ_ONLY' || err.code === 'WEIR_QUERY_FAILED', `${sql}: ${err.code}`);
          return true;
        });
      }
      assert.deepEqual(await rows(wh, 'select count(*) as n from pages'), [[1]], 'nothing was changed');
    });

    /** CREATE TABLE in the engine's own words (ClickHouse wants an engine). */
    const createSql = (wh: Warehouse, table: string): string =>
      wh.engine === 'clickhouse'
        ? `CREATE TABLE ${table} (id String, n Int64) ENGINE = MergeTree ORDER BY id`
        : `create table ${table} (id varchar, n bigint)`;
    const deleteSql = (wh: Warehouse, table: string, where: string): string =>
      wh.engine === 'clickhouse' ? `ALTER TABLE ${table} DELETE WHERE ${where}` : `delete from ${table} where ${where}`;
    const execOptions = { schema, timeoutMs: 20_000 };

    it('execute runs several statements, DDL and DML, with unqualified names in the schema', async (wh) => {
      await wh.ensureSchema(schema);
      await wh.execute(
        `${createSql(wh, 'ex_a')};
         -- a comment; with a semicolon
         insert into ex_a (id, n) values ('a', 1), ('b;2', 2);
         insert into ex_a (id, n) select concat(id, 'x'), n * 10 from ex_a;`,
        execOptions,
      );
      assert.equal((await wh.describe(schema)).has('ex_a'), true, 'created in the schema');
      assert.deepEqual(await rows(wh, 'select id, n from ex_a order by id'), [['a', 1], ['ax', 10], ['b;2', 2], ['b;2x', 20]]);
      // A delete and an insert in one call: the delete has taken effect (ClickHouse: its
      // mutation is done) before the insert runs and before execute resolves.
      await wh.execute(`${deleteSql(wh, 'ex_a', 'n >= 10')}; insert into ex_a (id, n) values ('c', 3)`, execOptions);
      assert.deepEqual(await rows(wh, 'select id, n from ex_a order by id'), [['a', 1], ['b;2', 2], ['c', 3]]);
      await wh.execute('  -- nothing to run\n', execOptions);
    });

    it('execute is all or nothing where the engine has transactions; errors are WEIR_WAREHOUSE_FAILED', async (wh) => {
      await assert.rejects(wh.execute("insert into ex_a (id, n) values ('d', 4); insert into no_such_table_here (x) values (1)", execOptions), (err: unknown) => {
        assert.ok(err instanceof WeirError);
        assert.equal(err.code, 'WEIR_WAREHOUSE_FAILED');
        assert.equal(err.retriable, false);
        assert.match(err.message, /no_such_table_here/);
        return true;
      });
      const ids = (await rows(wh, 'select id from ex_a order by id')).map((r) => r[0]);
      // ClickHouse has no transactions: the first insert stays, as the port documents.
      assert.deepEqual(ids, wh.engine === 'clickhouse' ? ['a', 'b;2', 'c', 'd'] : ['a', 'b;2', 'c']);
    });

    it('a slow execute stops at the timeout with WEIR_QUERY_TIMEOUT and leaves nothing behind where transactional', async (wh, f) => {
      const started = Date.now();
      await assert.rejects(wh.execute(`insert into ex_a (id, n) values ('slow', 9); ${f.slowQuery}`, { schema, timeoutMs: 300 }), (err: unknown) => {
        assert.ok(err instanceof WeirError);
        assert.equal(err.code, 'WEIR_QUERY_TIMEOUT');
        return true;
      });
      assert.ok(Date.now() - started < 5000, 'stopped promptly');
      const slow = await rows(wh, "select count(*) from ex_a where id = 'slow'");
      assert.deepEqual(slow, [[wh.engine === 'clickhouse' ? 1 : 0]]);
      await wh.execute("insert into ex_a (id, n) values ('after', 1)", execOptions);
      assert.deepEqual(await rows(wh, "select n from ex_a where id = 'after'"), [[1]]);
    });

    it('a slow query stops at the timeout with WEIR_QUERY_TIMEOUT', async (wh, f) => {
      const started = Date.now();
      await assert.rejects(wh.query(f.slowQuery, { schema, timeoutMs: 300, maxRows: 10 }), (err: unknown) => {
        assert.ok(err instanceof WeirError);
        assert.equal(err.code, 'WEIR_QUERY_TIMEOUT');
        return true;
      });
      assert.ok(Date.now() - started < 5000, 'stopped promptly');
      await wh.ping();
    });
  });
}
