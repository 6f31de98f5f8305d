/**
 * The Warehouse port: the SQL engine events are loaded into, in the Segment warehouse layout
 * (one schema per source; `tracks`, `pages`, `identifies`, `users`, … and one table per track
 * event). The engine-neutral work (which table, which columns, which type, what is discarded)
 * lives in `segment-schema.ts`; an adapter only creates, evolves, writes and queries.
 *
 * Adapters: `duckdb/` (embedded default), `postgres/`, `clickhouse/`. Every adapter passes
 * `test/contract/warehouse.contract.ts`.
 *
 * @example
 * ```ts
 * const wh = await openDuckDbWarehouse({ file: '.weir/warehouse.duckdb' });
 * await wh.ensureSchema('web');
 * await wh.createTable({ schema: 'web', table: 'tracks' }, [{ name: 'id', type: 'varchar' }], 'id');
 * await wh.write({ schema: 'web', table: 'tracks' }, [{ name: 'id', type: 'varchar' }], [['m1']], 'insert', 'id');
 * const r = await wh.query('select count(*) as n from tracks', { schema: 'web', timeoutMs: 5000, maxRows: 100 });
 * await wh.execute('create or replace view recent as select * from tracks limit 10', { schema: 'web', timeoutMs: 5000 });
 * ```
 */
export interface Warehouse {
  /** The engine, for logs and for SQL that differs between engines. */
  readonly engine: 'duckdb' | 'postgres' | 'clickhouse';

  /**
   * Timestamps the engine can store, when it cannot store every one JavaScript can (ClickHouse's
   * DateTime: 1970–2106). The loader sends timestamps outside it to the discards, so one odd
   * event cannot fail a whole batch. Absent: no limit.
   */
  readonly timestampRange?: { min: Date; max: Date };

  /**
   * The tables of a schema with their columns' Weir types (empty when the schema does not
   * exist). Columns of a type Weir did not create map to the nearest Weir type.
   */
  describe(schema: string): Promise<Map<string, Map<string, ColumnType>>>;

  /** Creates the schema when missing. Idempotent. */
  ensureSchema(schema: string): Promise<void>;

  /**
   * Creates a table with these columns when missing; `key` names the column rows are unique on
   * (`id`, the messageId, for event tables). Idempotent.
   */
  createTable(table: TableRef, columns: ColumnSpec[], key: string): Promise<void>;

  /** Adds the columns that are missing. Idempotent; existing columns are left as they are. */
  addColumns(table: TableRef, columns: ColumnSpec[]): Promise<void>;

  /**
   * Writes rows (each an array aligned with `columns`; columns of the table not listed stay
   * null). Idempotent by `key`:
   * - `insert`: a row whose key is already stored is skipped, so a replayed or re-sent event
   *   never makes a second row (queries see each key once, even where the engine dedups
   *   asynchronously);
   * - `upsert`: a row whose key is already stored replaces the listed columns of that row (for
   *   `users`; columns not listed keep their values).
   * Within one call, rows with the same key: the last one wins. Resolves once the rows are
   * committed; a retriable {@link WeirError} (`WEIR_WAREHOUSE_UNAVAILABLE`) when the engine is
   * unreachable.
   */
  write(table: TableRef, columns: ColumnSpec[], rows: Value[][], mode: 'insert' | 'upsert', key: string): Promise<void>;

  /**
   * Runs read-only SQL with the schema first on the search path, so `select * from tracks` reads
   * the source's tracks. Refused: writes, DDL, and (where the engine can) file and network
   * access. Stops after `timeoutMs` (`WEIR_QUERY_TIMEOUT`) and returns at most `maxRows` rows.
   * A SQL error is a `WEIR_QUERY_FAILED` with the engine's message.
   */
  query(sql: string, options: QueryOptions): Promise<QueryResult>;

  /**
   * Runs trusted SQL that writes: DDL and DML from the pipelines folder, never console SQL.
   * Several statements separated by `;` run in order, with the schema first on the search path
   * (unqualified tables are created and found there) and timestamps rendered in UTC.
   * - DuckDB and Postgres run them in one transaction: every statement takes effect or none.
   *   Transaction control (`BEGIN`, `COMMIT`) does not belong in the text.
   * - ClickHouse has no transactions: statements run one after another, each mutation
   *   (`ALTER TABLE … DELETE | UPDATE`) is waited for before the next statement, and a failure
   *   leaves the earlier statements applied.
   * Stops after `timeoutMs` (`WEIR_QUERY_TIMEOUT`, rolled back where transactional). The engine
   * refusing a statement is `WEIR_WAREHOUSE_FAILED` with its message; an unreachable engine is
   * the retriable `WEIR_WAREHOUSE_UNAVAILABLE`.
   */
  execute(sql: string, options: ExecuteOptions): Promise<void>;

  /** Resolves when the engine answers; rejects with `WEIR_WAREHOUSE_UNAVAILABLE` otherwise. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

/** The column types of the Segment warehouse convention. */
export type ColumnType = 'timestamp' | 'bigint' | 'double' | 'boolean' | 'varchar';

/** A cell: timestamps as `Date`, bigint columns as safe-integer numbers. */
export type Value = string | number | boolean | Date | null;

export interface ColumnSpec {
  name: string;
  type: ColumnType;
}

export interface TableRef {
  schema: string;
  table: string;
}

export interface QueryOptions {
  /** Schema searched first for unqualified table names. */
  schema: string;
  timeoutMs: number;
  maxRows: number;
}

export interface ExecuteOptions {
  /** Schema searched first, and where unqualified tables are created. */
  schema: string;
  timeoutMs: number;
}

export interface QueryResult {
  columns: Array<{ name: string; type: string }>;
  /** Rows as arrays aligned with `columns`; timestamps as ISO strings, 64-bit integers as numbers or strings beyond 2^53. */
  rows: unknown[][];
  /** True when more rows existed than `maxRows`. */
  truncated: boolean;
}
