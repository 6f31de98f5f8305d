/**
 * The Postgres Warehouse: one schema per source, tables keyed by a PRIMARY KEY so that
 * `ON CONFLICT` makes writes idempotent, and queries run as a read-only cursor on a connection
 * of their own.
 */
import { WeirError } from '../../errors/catalogue.js';
import { keyIndexOf, lastByKey } from '../rows.js';
import type { ColumnSpec, ColumnType, ExecuteOptions, QueryOptions, QueryResult, TableRef, Value, Warehouse } from '../warehouse.js';
import { createPgPool, type PgClientLike, type PgPoolLike, type PgQueryResult } from './pg-pool.js';
import { isCreateRace, isUnreachable, queryError, sqlState, unavailableError, warehouseError } from './postgres-errors.js';
import { addColumnsSql, createTableSql, cursorQuery, insertSql, quoteIdent, weirTypeOf } from './postgres-sql.js';
import { resultTypes } from './result-types.js';

export interface PostgresWarehouseOptions {
  /** A libpq-style URL, `postgres://user:password@host:5432/database`. */
  url: string;
  /**
   * A pool to use instead of opening one from `url` (a `pg.Pool` fits). The warehouse owns it:
   * `close()` ends it. Give it an `error` listener: idle connections the server drops are
   * reported there.
   */
  pool?: PgPoolLike;
}

/**
 * Rows per INSERT. Each column is one array parameter whatever the row count, so this bounds the
 * size of one message rather than a parameter count; on a local Postgres 15, statements of 1000
 * rows wrote 10k rows as fast as or faster than larger ones (~100k rows/s).
 */
const ROWS_PER_STATEMENT = 1000;

/**
 * How long after `timeoutMs` a query's connection is dropped if the server has not answered the
 * statement_timeout cancel (a hung network, an overloaded server): the caller still gets its
 * answer in bounded time.
 */
const QUERY_GUARD_GRACE_MS = 2000;

/** statement_timeout and setTimeout both stop at 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1 - QUERY_GUARD_GRACE_MS;

/**
 * A checked-out connection. pg emits errors of a checked-out connection (the server went away
 * between two statements) as events, which crash the process when nobody listens; the lease
 * listens, and hands the pool a failed connection back as failed so it is discarded, not reused.
 */
class Lease {
  private failure: Error | undefined;
  private released = false;
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };

  constructor(readonly client: PgClientLike) {
    client.on('error', this.onError);
  }

  discard(err: Error): void {
    this.failure ??= err;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.client.removeListener('error', this.onError);
    this.client.release(this.failure);
  }
}

/** A timeout both statement_timeout and setTimeout take; statement_timeout = 0 would mean no limit at all. */
function clampTimeout(ms: number): number {
  return Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(ms)));
}

function toParam(value: Value | undefined, column: ColumnSpec): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new WeirError('WEIR_WAREHOUSE_FAILED', { engine: 'postgres', detail: `invalid Date in column ${column.name}` });
    }
    // An explicit UTC instant: timestamptz stores the instant, whatever the server's TimeZone.
    return value.toISOString();
  }
  return value;
}

/** One array per column, for `unnest`. */
function columnArrays(columns: ColumnSpec[], rows: Value[][]): unknown[] {
  return columns.map((column, j) => rows.map((row) => toParam(row[j], column)));
}

function compareKeys(a: Value, b: Value): number {
  const x = a instanceof Date ? a.getTime() : a;
  const y = b instanceof Date ? b.getTime() : b;
  if (typeof x !== typeof y) return typeof x < typeof y ? -1 : 1;
  return x === y ? 0 : (x ?? 0) < (y ?? 0) ? -1 : 1;
}

class PostgresWarehouse implements Warehouse {
  readonly engine = 'postgres' as const;
  /** Type names by OID, learned from pg_type as result columns show them. */
  private readonly typeNames = new Map<number, string>();
  private closing: Promise<void> | undefined;

  constructor(private readonly pool: PgPoolLike) {}

  private async checkout(): Promise<Lease> {
    try {
      return new Lease(await this.pool.connect());
    } catch (err) {
      throw warehouseError(err);
    }
  }

  /** Runs statements on one connection; errors become WEIR_WAREHOUSE_UNAVAILABLE or _FAILED. */
  private async withClient<T>(fn: (client: PgClientLike) => Promise<T>): Promise<T> {
    const lease = await this.checkout();
    try {
      return await fn(lease.client);
    } catch (err) {
      throw warehouseError(err);
    } finally {
      lease.release();
    }
  }

  private async ddl(text: string): Promise<void> {
    try {
      await this.withClient((c) => c.query({ text }));
    } catch (err) {
      if (err instanceof WeirError && isCreateRace(err.cause)) return;
      throw err;
    }
  }

  async ping(): Promise<void> {
    try {
      await this.withClient((c) => c.query({ text: 'select 1' }));
    } catch (err) {
      throw unavailableError(err instanceof WeirError && err.cause !== undefined ? err.cause : err);
    }
  }

  async describe(schema: string): Promise<Map<string, Map<string, ColumnType>>> {
    const r = await this.withClient((c) =>
      c.query({
        text: `select table_name, column_name, data_type from information_schema.columns
               where table_schema = $1 order by table_name, ordinal_position`,
        values: [schema],
        rowMode: 'array',
      }),
    );
    const tables = new Map<string, Map<string, ColumnType>>();
    for (const [table, column, dataType] of r.rows as Array<[string, string, string]>) {
      let columns = tables.get(table);
      if (!columns) tables.set(table, (columns = new Map()));
      columns.set(column, weirTypeOf(dataType));
    }
    return tables;
  }

  async ensureSchema(schema: string): Promise<void> {
    await this.ddl(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  }

  async createTable(table: TableRef, columns: ColumnSpec[], key: string): Promise<void> {
    await this.ddl(createTableSql(table, columns, key));
  }

  async addColumns(table: TableRef, columns: ColumnSpec[]): Promise<void> {
    if (columns.length === 0) return;
    await this.ddl(addColumnsSql(table, columns));
  }

  async write(table: TableRef, columns: ColumnSpec[], rows: Value[][], mode: 'insert' | 'upsert', key: string): Promise<void> {
    if (rows.length === 0) return;
    const k = keyIndexOf(columns, key);
    // Sorted by key so that concurrent writers lock overlapping keys in the same order and cannot
    // deadlock on the primary key index; row order means nothing in a table.
    const unique = lastByKey(rows, k).slice().sort((a, b) => compareKeys(a[k] ?? null, b[k] ?? null));
    const text = insertSql(table, columns, mode, key);
    await this.withClient(async (client) => {
      await client.query({ text: 'BEGIN' });
      try {
        for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
          await client.query({ text, values: columnArrays(columns, unique.slice(i, i + ROWS_PER_STATEMENT)) });
        }
        await client.query({ text: 'COMMIT' });
      } catch (err) {
        // A lost connection has rolled back on the server already; the ROLLBACK only matters for
        // a connection going back to the pool.
        if (!isUnreachable(err)) await client.query({ text: 'ROLLBACK' }).catch(() => {});
        throw err;
      }
    });
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const text = cursorQuery(sql);
    const timeoutMs = clampTimeout(options.timeoutMs);
    const maxRows = Math.max(0, Math.floor(options.maxRows));
    const setup =
      `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}; ` +
      `SET LOCAL search_path = ${quoteIdent(options.schema)}, public; ` +
      // The result parsers read timestamps in this form.
      `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'`;
    const lease = await this.checkout();
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        lease.discard(new Error(`no answer ${QUERY_GUARD_GRACE_MS} ms after the statement timeout`));
        reject(new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }));
      }, timeoutMs + QUERY_GUARD_GRACE_MS);
    });
    const work = this.runCursor(lease, setup, text, timeoutMs, maxRows);
    try {
      return await Promise.race([work, guard]);
    } catch (err) {
      throw queryError(err, timeoutMs);
    } finally {
      clearTimeout(timer);
      // After the guard fired, the discarded connection makes `work` fail; nobody waits for it.
      work.catch(() => {});
      lease.release();
    }
  }

  private async runCursor(lease: Lease, setup: string, text: string, timeoutMs: number, maxRows: number): Promise<QueryResult> {
    const client = lease.client;
    const started = Date.now();
    await client.query({ text: setup });
    try {
      // The extended protocol takes exactly one statement, so `select 1; drop table x` is refused
      // by the server rather than by a hand-written SQL splitter; a cursor only holds a query.
      await client.query({ text: `DECLARE weir_query NO SCROLL CURSOR FOR ${text}`, queryMode: 'extended' });
      // statement_timeout counts per statement: the fetch gets what planning left of the budget.
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      await client.query({ text: `SET LOCAL statement_timeout = ${left}` });
      const r = await client.query({ text: `FETCH FORWARD ${maxRows + 1} FROM weir_query`, rowMode: 'array', types: resultTypes });
      const columns = await this.columnsOf(client, r.fields);
      const truncated = r.rows.length > maxRows;
      const rows = (truncated ? r.rows.slice(0, maxRows) : r.rows) as unknown[][];
      await client.query({ text: 'ROLLBACK' });
      return { columns, rows, truncated };
    } catch (err) {
      // The ROLLBACK also undoes any SET the query made, so the connection goes back clean; if it
      // cannot be rolled back it must not go back at all.
      await client.query({ text: 'ROLLBACK' }).catch((e: unknown) => lease.discard(e instanceof Error ? e : new Error(String(e))));
      throw err;
    }
  }

  async execute(sql: string, options: ExecuteOptions): Promise<void> {
    if (sql.trim() === '') return;
    const timeoutMs = clampTimeout(options.timeoutMs);
    const lease = await this.checkout();
    const client = lease.client;
    let timedOut = false;
    let abandoned = false;
    let timer: NodeJS.Timeout | undefined;
    let guardTimer: NodeJS.Timeout | undefined;
    const work = (async () => {
      // statement_timeout counts per statement, and the text may hold several: the timer below
      // cancels the whole text at the deadline.
      await client.query({
        text:
          `BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; ` +
          `SET LOCAL search_path = ${quoteIdent(options.schema)}, public; SET LOCAL TimeZone = 'UTC'`,
      });
      const pid = (await client.query({ text: 'select pg_backend_pid()', rowMode: 'array' })).rows[0] as [number] | undefined;
      timer = setTimeout(() => {
        timedOut = true;
        if (pid !== undefined) void this.cancelBackend(pid[0]);
      }, timeoutMs);
      // Without `values` node-postgres sends a simple query, which may hold several statements.
      await client.query({ text: sql });
      await client.query({ text: 'COMMIT' });
    })();
    const guard = new Promise<never>((_, reject) => {
      guardTimer = setTimeout(() => {
        abandoned = true;
        lease.discard(new Error(`no answer ${QUERY_GUARD_GRACE_MS} ms after the execute timeout`));
        reject(new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }));
      }, timeoutMs + QUERY_GUARD_GRACE_MS);
    });
    try {
      await Promise.race([work, guard]);
    } catch (err) {
      // A dropped or abandoned connection rolls back on the server (COMMIT was never sent);
      // otherwise the connection goes back to the pool clean, or not at all.
      if (!abandoned && !isUnreachable(err)) {
        await client.query({ text: 'ROLLBACK' }).catch((e: unknown) => lease.discard(e instanceof Error ? e : new Error(String(e))));
      }
      if (err instanceof WeirError) throw err;
      if (timedOut || sqlState(err) === '57014') throw new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }, { cause: err });
      throw warehouseError(err);
    } finally {
      clearTimeout(timer);
      clearTimeout(guardTimer);
      work.catch(() => {});
      // The cancel sent at the timeout travels on another connection and may land after the
      // server's own statement_timeout ended the text: on a pooled connection it would cancel
      // whatever ran next (seen in CI). A connection that was sent a cancel is not reused.
      if (timedOut) lease.discard(new Error('a cancel was sent to this connection at the execute timeout'));
      lease.release();
    }
  }

  /** Cancels the statement a backend is running, from another connection. */
  private async cancelBackend(pid: number): Promise<void> {
    await this.withClient((c) => c.query({ text: 'select pg_cancel_backend($1)', values: [pid] })).catch(() => undefined);
  }

  private async columnsOf(client: PgClientLike, fields: PgQueryResult['fields']): Promise<QueryResult['columns']> {
    const unknown = [...new Set(fields.map((f) => f.dataTypeID))].filter((oid) => !this.typeNames.has(oid));
    if (unknown.length > 0) {
      const r = await client.query({
        text: 'select oid::int8, format_type(oid, null) from pg_type where oid = any($1::oid[])',
        values: [unknown],
        rowMode: 'array',
        types: resultTypes,
      });
      for (const [oid, name] of r.rows as Array<[number, string]>) this.typeNames.set(oid, name);
    }
    return fields.map((f) => ({ name: f.name, type: this.typeNames.get(f.dataTypeID) ?? String(f.dataTypeID) }));
  }

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }
}

/**
 * Opens the Postgres warehouse. Nothing connects until the first call, so Weir starts while the
 * server is down; `ping()` tells whether it answers.
 *
 * Queries run as the URL's role: give it no superuser or `pg_read_server_files` rights, or
 * `pg_read_file()` in a query reads the server's files (the read-only transaction stops writes,
 * not reads).
 *
 * @example
 * ```ts
 * const wh = await openPostgresWarehouse({ url: 'postgres://weir@127.0.0.1:5432/analytics' });
 * await wh.ensureSchema('web');
 * await wh.createTable({ schema: 'web', table: 'pages' }, [{ name: 'id', type: 'varchar' }], 'id');
 * const r = await wh.query('select count(*) as n from pages', { schema: 'web', timeoutMs: 5000, maxRows: 100 });
 * await wh.close();
 * ```
 */
export async function openPostgresWarehouse(options: PostgresWarehouseOptions): Promise<Warehouse> {
  return new PostgresWarehouse(options.pool ?? createPgPool(options.url));
}
