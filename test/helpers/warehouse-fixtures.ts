import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/index.js';
import { openPostgresWarehouse } from '../../src/warehouse/postgres/index.js';
import { openClickHouseWarehouse } from '../../src/warehouse/clickhouse/index.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';
import type { WarehouseFixture } from '../contract/warehouse.contract.js';

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const CLICKHOUSE_URL = 'http://127.0.0.1:8123';

export type FixtureOrSkip = WarehouseFixture | { skip: string };

/** Why the local PostgreSQL cannot be used, or undefined when it can. */
export async function postgresUnreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return `PostgreSQL at 127.0.0.1:5432 unreachable: ${(err as Error).message}`;
  }
}

/** Drops a schema of the local PostgreSQL with everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}

function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

/**
 * Wraps a warehouse on a shared server so it remembers the schemas it was asked to create, and
 * cleanup drops exactly those (the port itself cannot drop anything).
 */
export function trackSchemas(inner: Warehouse): { warehouse: Warehouse; schemas: Set<string> } {
  const schemas = new Set<string>();
  const warehouse: Warehouse = {
    engine: inner.engine,
    timestampRange: inner.timestampRange,
    describe: (schema) => inner.describe(schema),
    ensureSchema: (schema) => (schemas.add(schema), inner.ensureSchema(schema)),
    createTable: (table, columns, key) => (schemas.add(table.schema), inner.createTable(table, columns, key)),
    addColumns: (table, columns) => inner.addColumns(table, columns),
    write: (table, columns, rows, mode, key) => inner.write(table, columns, rows, mode, key),
    query: (sql, options) => inner.query(sql, options),
    execute: (sql, options) => inner.execute(sql, options),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { warehouse, schemas };
}

/** A fresh DuckDB file in a directory that does not exist yet, so opening must create it. */
export async function duckDbFixture(): Promise<WarehouseFixture & { file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-duckdb-'));
  const file = join(dir, 'nested', 'warehouse.duckdb');
  const warehouse = await openDuckDbWarehouse({ file });
  return {
    warehouse,
    file,
    // A cross join of 4·10^10 rows: minutes of work, so only the timeout can end it.
    slowQuery: 'select sum(a.range * b.range) from range(200000) a cross join range(200000) b',
    timestampPrecision: 'ms',
    async cleanup() {
      await warehouse.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A warehouse on the local PostgreSQL, or the reason it cannot be used. */
export async function postgresFixture(): Promise<(WarehouseFixture & { schemas: Set<string> }) | { skip: string }> {
  const inner = await openPostgresWarehouse({ url: POSTGRES_URL });
  try {
    await inner.ping();
  } catch (err) {
    await inner.close();
    return { skip: `PostgreSQL at 127.0.0.1:5432 unreachable: ${message(err)}` };
  }
  const { warehouse, schemas } = trackSchemas(inner);
  return {
    warehouse,
    schemas,
    slowQuery: 'select pg_sleep(5)',
    timestampPrecision: 'ms',
    async cleanup() {
      await warehouse.close();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(s)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A warehouse on the local ClickHouse (started by scripts/start-clickhouse.sh), or why not. */
export async function clickHouseFixture(): Promise<FixtureOrSkip> {
  try {
    // /ping answers "Ok." without running a query: enough to know the server is up.
    const res = await fetch(`${CLICKHOUSE_URL}/ping`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return { skip: `ClickHouse at 127.0.0.1:8123 unreachable: HTTP ${res.status}` };
  } catch (err) {
    return { skip: `ClickHouse at 127.0.0.1:8123 unreachable: ${message(err)}` };
  }
  const { warehouse, schemas } = trackSchemas(await openClickHouseWarehouse({ url: CLICKHOUSE_URL }));
  return {
    warehouse,
    // Tens of seconds on 18.16; system.numbers because table functions such as numbers() are
    // refused in readonly mode.
    slowQuery: 'SELECT sum(cityHash64(number)) FROM (SELECT number FROM system.numbers LIMIT 10000000000)',
    timestampPrecision: 's',
    async cleanup() {
      await warehouse.close();
      for (const schema of schemas) await clickHouseSql(`DROP DATABASE IF EXISTS \`${schema.replace(/[`\\]/g, '\\$&')}\``);
    },
  };
}

export async function clickHouseSql(query: string): Promise<string> {
  const res = await fetch(CLICKHOUSE_URL, { method: 'POST', body: query });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text;
}

/** Every adapter, for suites that run the same cases on each. */
export const WAREHOUSE_FIXTURES: ReadonlyArray<{ name: string; open: () => Promise<FixtureOrSkip> }> = [
  { name: 'duckdb', open: duckDbFixture },
  { name: 'postgres', open: postgresFixture },
  { name: 'clickhouse', open: clickHouseFixture },
];
