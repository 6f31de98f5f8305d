/**
 * The embedded Warehouse: one DuckDB file, opened by this process alone (DuckDB locks the file).
 *
 * Three connections on one instance, each behind its own queue: the writer (DDL and loads), the
 * reader (console queries and ping) and the executor (pipeline SQL), so a slow console query or
 * a long pipeline model never holds up a load, and interrupting one at its timeout touches only
 * its own connection. DuckDB's MVCC gives each committed data only; the loader and the
 * pipelines write different tables, so their transactions do not conflict.
 *
 * Safety of console SQL, in layers:
 * - the instance starts with `enable_external_access = false` (no file, network, ATTACH, COPY,
 *   extension install or load: the loader writes through the appender and SQL and needs none of
 *   it) and `lock_configuration = true`, so no statement can switch that back on;
 * - a query is prepared first and runs only when it is a single SELECT statement (which also
 *   covers DESCRIBE, SHOW, SUMMARIZE and table-valued PRAGMAs).
 *
 * Idempotent writes without a PRIMARY KEY: DuckDB's ART index made each 10k-row micro-batch
 * slower as the table grew (the index is rewritten at checkpoints: ~25k rows/s at 2.5M rows in a
 * measurement, against ~60k rows/s for the anti-join below), and it costs memory per key.
 * Instead each write appends into a TEMP staging table and then, in the same transaction, inserts
 * the staged rows whose key is not stored yet (a hash anti-join built on the small staging side,
 * so the target is scanned on its key column only). Correct because this connection is the only
 * writer of the file: DuckDB locks it to one process, and writes here run one at a time.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  DuckDBDataChunk,
  DuckDBInstance,
  StatementType,
  type DuckDBConnection,
} from '@duckdb/node-api';
import { WeirError } from '../../errors/catalogue.js';
import { keyIndexOf, lastByKey } from '../rows.js';
import type { ColumnSpec, ColumnType, ExecuteOptions, QueryOptions, QueryResult, TableRef, Value, Warehouse } from '../warehouse.js';
import { DUCKDB_TYPE, qualified, quoteIdent, quoteLiteral, weirTypeOf } from './duckdb-sql.js';
import { VECTOR_TYPE, jsonFromDuckDb, toDuckDbValue } from './duckdb-values.js';
import { SerialQueue } from './serial-queue.js';

export interface DuckDbWarehouseOptions {
  /** Path of the database file (created with its directory if missing), or `:memory:`. */
  file: string;
  /**
   * Test only: `insert` keeps every row it is given, even one whose key is stored. The
   * reliability suite's kill loop sets it to show that its duplicate check can fail.
   */
  keepDuplicates?: boolean;
}

/** Settings of the instance; locked once applied. */
const INSTANCE_OPTIONS: Record<string, string> = {
  enable_external_access: 'false',
  lock_configuration: 'true',
};

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;

/** Temp tables live in the `temp` catalog, private to the connection and never checkpointed. */
const STAGE = 'weir_stage';
const STAGE_QUALIFIED = `temp.main.${quoteIdent(STAGE)}`;

/**
 * Opens (creating if needed) a DuckDB warehouse file. Rejects with `WEIR_WAREHOUSE_UNAVAILABLE`
 * when the file cannot be opened, typically because another process holds it.
 *
 * @example
 * ```ts
 * const wh = await openDuckDbWarehouse({ file: '.weir/warehouse.duckdb' });
 * try {
 *   await wh.ensureSchema('web');
 *   const r = await wh.query('select count(*) as n from tracks', { schema: 'web', timeoutMs: 5000, maxRows: 100 });
 * } finally {
 *   await wh.close();
 * }
 * ```
 */
export async function openDuckDbWarehouse(options: DuckDbWarehouseOptions): Promise<Warehouse> {
  const file = options.file === ':memory:' ? options.file : resolve(options.file);
  let instance: DuckDBInstance | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    instance = await DuckDBInstance.create(file, INSTANCE_OPTIONS);
    const writer = await instance.connect();
    const reader = await instance.connect();
    const executor = await instance.connect();
    return new DuckDbWarehouse(instance, writer, reader, executor, options.keepDuplicates === true);
  } catch (err) {
    instance?.closeSync();
    throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'duckdb', detail: engineMessage(err) }, { cause: err });
  }
}

class DuckDbWarehouse implements Warehouse {
  readonly engine = 'duckdb' as const;
  private readonly writes = new SerialQueue();
  private readonly reads = new SerialQueue();
  private readonly executes = new SerialQueue();
  /** The schema each connection's search_path currently starts with. */
  private readonly searchSchema = new Map<DuckDBConnection, string>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
    private readonly executor: DuckDBConnection,
    private readonly keepDuplicates: boolean,
  ) {}

  describe(schema: string): Promise<Map<string, Map<string, ColumnType>>> {
    return this.onWriter(async (conn) => {
      // Tables only, not views; `temporary` excludes this connection's staging table.
      const result = await conn.runAndReadAll(
        `select t.table_name, c.column_name, c.data_type
           from duckdb_tables() t join duckdb_columns() c on c.table_oid = t.table_oid
          where t.database_name = current_database() and t.schema_name = $1 and not t.temporary
          order by t.table_name, c.column_index`,
        [schema],
      );
      const tables = new Map<string, Map<string, ColumnType>>();
      for (const [table, column, type] of result.getRows() as Array<[string, string, string]>) {
        let columns = tables.get(table);
        if (!columns) tables.set(table, (columns = new Map()));
        columns.set(column, weirTypeOf(type));
      }
      return tables;
    });
  }

  ensureSchema(schema: string): Promise<void> {
    return this.onWriter(async (conn) => {
      await conn.run(`create schema if not exists ${quoteIdent(schema)}`);
    });
  }

  async createTable(table: TableRef, columns: ColumnSpec[], key: string): Promise<void> {
    if (!columns.some((c) => c.name === key)) throw new Error(`createTable: the key column ${key} is not among the columns`);
    // NOT NULL on the key instead of a PRIMARY KEY: see the header on why there is no index.
    const defs = columns.map((c) => `${quoteIdent(c.name)} ${DUCKDB_TYPE[c.type]}${c.name === key ? ' not null' : ''}`);
    return this.onWriter(async (conn) => {
      await conn.run(`create table if not exists ${qualified(table)} (${defs.join(', ')})`);
    });
  }

  async addColumns(table: TableRef, columns: ColumnSpec[]): Promise<void> {
    if (columns.length === 0) return;
    return this.onWriter((conn) =>
      transaction(conn, async () => {
        for (const c of columns) {
          await conn.run(`alter table ${qualified(table)} add column if not exists ${quoteIdent(c.name)} ${DUCKDB_TYPE[c.type]}`);
        }
      }),
    );
  }

  async write(table: TableRef, columns: ColumnSpec[], rows: Value[][], mode: 'insert' | 'upsert', key: string): Promise<void> {
    if (rows.length === 0) return;
    // Converted before the queue: a bad value fails the call without touching the database.
    const chunks = toChunks(columns, this.keepDuplicates ? rows : lastByKey(rows, keyIndexOf(columns, key)));
    const target = qualified(table);
    const list = columns.map((c) => quoteIdent(c.name)).join(', ');
    const staged = columns.map((c) => `s.${quoteIdent(c.name)}`).join(', ');
    const k = quoteIdent(key);
    const missing = this.keepDuplicates ? 'true' : `not exists (select 1 from ${target} t where t.${k} = s.${k})`;
    const updates = columns.filter((c) => c.name !== key).map((c) => `${quoteIdent(c.name)} = s.${quoteIdent(c.name)}`);

    return this.onWriter((conn) =>
      transaction(conn, async () => {
        const defs = columns.map((c) => `${quoteIdent(c.name)} ${DUCKDB_TYPE[c.type]}`);
        await conn.run(`create or replace temp table ${quoteIdent(STAGE)} (${defs.join(', ')})`);
        const appender = await conn.createAppender(STAGE, 'main', 'temp');
        try {
          for (const chunk of chunks) appender.appendDataChunk(chunk);
        } finally {
          // Flushes into the open transaction; rolled back with it on failure.
          appender.closeSync();
        }
        // Update first, so the insert below only sees keys that are not stored.
        if (mode === 'upsert' && updates.length > 0) {
          await conn.run(`update ${target} t set ${updates.join(', ')} from ${STAGE_QUALIFIED} s where t.${k} = s.${k}`);
        }
        await conn.run(`insert into ${target} (${list}) select ${staged} from ${STAGE_QUALIFIED} s where ${missing}`);
        await conn.run(`drop table ${STAGE_QUALIFIED}`);
      }),
    );
  }

  query(sql: string, options: QueryOptions): Promise<QueryResult> {
    // The clock starts when the query does, not while it waits behind earlier queries (each
    // bounded by its own timeout): a queued query gets its whole budget.
    return this.onReader((conn) => this.interruptible(conn, options.timeoutMs, () => this.readOnly(conn, sql, options), queryError));
  }

  execute(sql: string, options: ExecuteOptions): Promise<void> {
    return this.executes.run(async () => {
      if (this.closing) throw closedError();
      if (sql.trim() === '') return;
      const conn = this.executor;
      await this.interruptible(
        conn,
        options.timeoutMs,
        async () => {
          // The first schema of the search path is also where unqualified tables are created.
          await this.useSchema(conn, options.schema);
          await transaction(conn, async () => {
            await conn.run(sql);
          });
        },
        writeError,
      );
    });
  }

  /**
   * Runs `work` on a connection and interrupts it after `timeoutMs` (`WEIR_QUERY_TIMEOUT`);
   * other engine errors become what `otherwise` makes of them.
   */
  private async interruptible<T>(conn: DuckDBConnection, timeoutMs: number, work: () => Promise<T>, otherwise: (err: unknown) => WeirError): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn.interrupt();
    }, timeoutMs);
    try {
      return await work();
    } catch (err) {
      if (err instanceof WeirError) throw err;
      if (this.closing) throw closedError(err);
      if (timedOut) throw new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }, { cause: err });
      throw otherwise(err);
    } finally {
      // An interrupt that lands after the work ended is harmless: DuckDB clears the flag when
      // the next statement starts.
      clearTimeout(timer);
    }
  }

  ping(): Promise<void> {
    return this.onReader(async (conn) => {
      try {
        await conn.run('select 1');
      } catch (err) {
        throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'duckdb', detail: engineMessage(err) }, { cause: err });
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // A running console query or pipeline statement is given up (the pipeline's transaction
    // rolls back, and its task runs again); a running load is let finish.
    this.reader.interrupt();
    this.executor.interrupt();
    await Promise.all([this.writes.idle(), this.reads.idle(), this.executes.idle()]);
    this.reader.disconnectSync();
    this.writer.disconnectSync();
    this.executor.disconnectSync();
    // Checkpoints the WAL into the file and releases the file lock.
    this.instance.closeSync();
  }

  private async readOnly(conn: DuckDBConnection, sql: string, options: QueryOptions): Promise<QueryResult> {
    if (sql.trim() === '') throw new WeirError('WEIR_QUERY_FAILED', { detail: 'the query is empty' });
    await this.useSchema(conn, options.schema);
    const statements = await conn.extractStatements(sql).catch((err: unknown) => {
      // Text without a statement (only comments) fails without a message of its own.
      if (err instanceof Error && err.message === 'Error in native callback') {
        throw new WeirError('WEIR_QUERY_FAILED', { detail: 'the query holds no statement' });
      }
      throw err;
    });
    if (statements.count !== 1) {
      throw new WeirError('WEIR_QUERY_READ_ONLY', { detail: `one SELECT statement at a time, not ${statements.count}` });
    }
    // Preparing binds the statement without running it, and tells its type.
    const prepared = await statements.prepare(0);
    if (prepared.statementType !== StatementType.SELECT) {
      const kind = StatementType[prepared.statementType] ?? String(prepared.statementType);
      throw new WeirError('WEIR_QUERY_READ_ONLY', { detail: `${kind} statements are not allowed, only SELECT` });
    }
    // Streamed, so a huge result is read only as far as maxRows + 1 rows.
    const result = await prepared.stream();
    const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    const rows: unknown[][] = [];
    while (rows.length <= options.maxRows) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const need = options.maxRows + 1 - rows.length;
      const converted = chunk.convertRows(jsonFromDuckDb);
      rows.push(...(converted.length > need ? converted.slice(0, need) : converted));
    }
    // The rest of a truncated result is dropped when the reader's next statement starts.
    const truncated = rows.length > options.maxRows;
    if (truncated) rows.length = options.maxRows;
    return { columns, rows, truncated };
  }

  /** Puts the schema first on a connection's search path (then `main`), once per change. */
  private async useSchema(conn: DuckDBConnection, schema: string): Promise<void> {
    if (this.searchSchema.get(conn) === schema) return;
    await conn.run(`set search_path = ${quoteLiteral(`${quoteIdent(schema)},main`)}`);
    this.searchSchema.set(conn, schema);
  }

  private onWriter<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.writes.run(async () => {
      if (this.closing) throw closedError();
      try {
        return await task(this.writer);
      } catch (err) {
        throw err instanceof WeirError ? err : writeError(err);
      }
    });
  }

  private onReader<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.reads.run(async () => {
      if (this.closing) throw closedError();
      return task(this.reader);
    });
  }
}

/** Runs `body` in one transaction: committed when it resolves, rolled back when it throws. */
async function transaction(conn: DuckDBConnection, body: () => Promise<void>): Promise<void> {
  await conn.run('begin transaction');
  try {
    await body();
  } catch (err) {
    // The rollback's own failure (e.g. the database was invalidated) says less than `err`.
    await conn.run('rollback').catch(() => undefined);
    throw err;
  }
  await conn.run('commit');
}

/** Rows as data chunks of the staging table's vector types, at most {@link CHUNK_ROWS} each. */
/** Weir rows as DuckDB data chunks of at most one vector each, for an appender. */
export function toChunks(columns: ColumnSpec[], rows: Value[][]): DuckDBDataChunk[] {
  const types = columns.map((c) => VECTOR_TYPE[c.type]);
  const chunks: DuckDBDataChunk[] = [];
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const part = rows.slice(start, start + CHUNK_ROWS);
    const chunk = DuckDBDataChunk.create(types, part.length);
    chunk.setColumns(columns.map((c, i) => part.map((row) => toDuckDbValue(c.type, row[i] ?? null, c.name))));
    chunks.push(chunk);
  }
  return chunks;
}

/** The engine's message, without the client's wrapping; never a stack. */
function engineMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^Failed to (?:extract statements|prepare)[^:]*: /, '').trim();
}

/**
 * Errors after which the same write may succeed later: the disk (full, unwritable) or a database
 * DuckDB invalidated after a fatal error. The rest (constraint, conversion, catalog) would fail
 * again.
 */
function isUnavailable(message: string): boolean {
  return /^(IO|FATAL|Connection) Error/.test(message) || message.includes('database has been invalidated');
}

function writeError(err: unknown): WeirError {
  const detail = engineMessage(err);
  const code = isUnavailable(detail) ? 'WEIR_WAREHOUSE_UNAVAILABLE' : 'WEIR_WAREHOUSE_FAILED';
  return new WeirError(code, { engine: 'duckdb', detail }, { cause: err });
}

function queryError(err: unknown): WeirError {
  const detail = engineMessage(err);
  // File and network access is refused by the engine, not by the statement check.
  if (detail.startsWith('Permission Error')) return new WeirError('WEIR_QUERY_READ_ONLY', { detail }, { cause: err });
  if (isUnavailable(detail)) return new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'duckdb', detail }, { cause: err });
  return new WeirError('WEIR_QUERY_FAILED', { detail }, { cause: err });
}

function closedError(cause?: unknown): WeirError {
  return new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'duckdb', detail: 'the warehouse is closed' }, { cause });
}
