import { randomUUID } from 'node:crypto';
import { createClient, ClickHouseLogLevel, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { WeirError } from '../../errors/catalogue.js';
import { keyIndexOf, lastByKey } from '../rows.js';
import type { ColumnSpec, ColumnType, ExecuteOptions, QueryOptions, QueryResult, TableRef, Value, Warehouse } from '../warehouse.js';
import { queryError, serverError, warehouseError } from './clickhouse-errors.js';
import { BOOLEAN_COMMENT, columnDefinition, columnType, ident, inLists, literal, mutatedTable, splitStatements, tableName, weirType } from './clickhouse-sql.js';
import { UnstorableValueError, decodeResult, encodeCell, type JsonCell, type ResultColumn } from './clickhouse-values.js';

export interface ClickHouseWarehouseOptions {
  /** The HTTP interface, e.g. `http://127.0.0.1:8123`. */
  url: string;
  username?: string;
  password?: string;
}

/** Server error code of ALTER ADD COLUMN when the column exists (another writer added it first). */
const DUPLICATE_COLUMN_CODES = new Set([15, 44]);

/** How often `OPTIMIZE … FINAL` is tried when the server declines because parts are busy merging. */
const OPTIMIZE_ATTEMPTS = 5;

type Row = Record<string, JsonCell>;

/**
 * Opens the ClickHouse adapter of the Warehouse port over ClickHouse's HTTP interface; works with
 * servers as old as 18.16 (Debian 12's `clickhouse-server`). A schema is a database; tables are
 * ReplacingMergeTree ordered by the key. Nothing is sent until the first call, so it opens while
 * the server is down (calls then fail with `WEIR_WAREHOUSE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const wh = await openClickHouseWarehouse({ url: 'http://127.0.0.1:8123' });
 * await wh.ensureSchema('web');
 * const r = await wh.query('select count() as n from tracks', { schema: 'web', timeoutMs: 5000, maxRows: 100 });
 * ```
 */
export async function openClickHouseWarehouse(options: ClickHouseWarehouseOptions): Promise<Warehouse> {
  const client = createClient({
    url: options.url,
    username: options.username ?? 'default',
    password: options.password ?? '',
    // Errors reach the caller as WeirErrors; the client's own stderr logging would repeat them.
    log: { level: ClickHouseLogLevel.OFF },
  });
  return new ClickHouseWarehouse(client);
}

class ClickHouseWarehouse implements Warehouse {
  readonly engine = 'clickhouse' as const;
  /** DateTime holds seconds from 1970 to 2106; other timestamps go to the discards. */
  readonly timestampRange = { min: new Date('1970-01-01T00:00:00Z'), max: new Date('2106-02-07T06:28:15Z') };
  private serverTimeZone: Promise<string> | undefined;

  constructor(private readonly client: ClickHouseClient) {}

  async ping(): Promise<void> {
    // `/ping` answers without checking credentials; a query checks them too.
    await this.command('SELECT 1', 'ping');
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async ensureSchema(schema: string): Promise<void> {
    await this.command(`CREATE DATABASE IF NOT EXISTS ${ident(schema)}`, `create database ${schema}`);
  }

  async describe(schema: string): Promise<Map<string, Map<string, ColumnType>>> {
    const rows = await this.select<[string, string, string, string]>(
      `SELECT table, name, type, comment FROM system.columns WHERE database = ${literal(schema)} ORDER BY table`,
      `describe ${schema}`,
    );
    const tables = new Map<string, Map<string, ColumnType>>();
    for (const [table, name, type, comment] of rows) {
      let columns = tables.get(table);
      if (!columns) tables.set(table, (columns = new Map()));
      columns.set(name, weirType(type, comment));
    }
    return tables;
  }

  async createTable(table: TableRef, columns: ColumnSpec[], key: string): Promise<void> {
    keyIndexOf(columns, key);
    const defs = columns.map((c) => columnDefinition(c.name, c.type, c.name === key));
    await this.command(
      `CREATE TABLE IF NOT EXISTS ${tableName(table.schema, table.table)} (${defs.join(', ')}) ENGINE = ReplacingMergeTree ORDER BY ${ident(key)}`,
      `create table ${table.schema}.${table.table}`,
    );
  }

  async addColumns(table: TableRef, columns: ColumnSpec[]): Promise<void> {
    // 18.16 has no ADD COLUMN IF NOT EXISTS: add what is missing, and when a concurrent writer
    // added a column in between (the whole ALTER then fails), look again.
    for (let attempt = 0; ; attempt++) {
      const existing = await this.tableColumns(table);
      const missing = columns.filter((c, i) => !existing.has(c.name) && columns.findIndex((d) => d.name === c.name) === i);
      if (missing.length === 0) return;
      // A boolean's comment goes in the same ALTER: 18.16 accepts `ADD COLUMN … COMMENT` but does
      // not store that comment, while COMMENT COLUMN in the same statement is applied with it.
      const commands = missing.flatMap((c) => {
        const add = `ADD COLUMN ${ident(c.name)} ${columnType(c.type)}`;
        return c.type === 'boolean' ? [add, `COMMENT COLUMN ${ident(c.name)} ${literal(BOOLEAN_COMMENT)}`] : [add];
      });
      try {
        await this.client.command({ query: `ALTER TABLE ${tableName(table.schema, table.table)} ${commands.join(', ')}` });
        return;
      } catch (err) {
        const server = serverError(err);
        if (attempt < 3 && server && DUPLICATE_COLUMN_CODES.has(server.code)) continue;
        throw warehouseError(err, `add columns to ${table.schema}.${table.table}`);
      }
    }
  }

  async write(table: TableRef, columns: ColumnSpec[], rows: Value[][], mode: 'insert' | 'upsert', key: string): Promise<void> {
    const keyIndex = keyIndexOf(columns, key);
    const unique = lastByKey(rows, keyIndex);
    if (unique.length === 0) return;
    const where = `${table.schema}.${table.table}`;
    let encoded: Row[];
    try {
      encoded = unique.map((row) => {
        const out: Row = {};
        columns.forEach((c, i) => {
          out[c.name] = encodeCell(row[i], c.type);
        });
        if (typeof out[key] !== 'string') throw new UnstorableValueError(`the key ${key} must be a string, got ${String(row[keyIndex])}`);
        return out;
      });
    } catch (err) {
      if (err instanceof UnstorableValueError) throw new WeirError('WEIR_WAREHOUSE_FAILED', { engine: 'clickhouse', detail: `write to ${where}: ${err.message}` });
      throw err;
    }
    const keys = encoded.map((r) => r[key] as string);
    if (mode === 'insert') await this.insertNew(table, key, keys, encoded);
    else await this.upsert(table, key, keys, encoded);
  }

  /**
   * Insert mode: keys already stored are skipped, the rest inserted. ClickHouse has no unique
   * constraint, so two writers racing on one key can both find it absent and both insert. After
   * inserting, each writer looks for its keys stored twice and, if any, merges the table
   * (`OPTIMIZE … FINAL`; ReplacingMergeTree keeps the row inserted last). Of two racing writers
   * the one that checks last sees both rows, so once both writes have resolved each key is
   * stored once. A key seen twice before inserting (a merge that failed earlier) is healed the
   * same way, so writing the same rows again converges.
   */
  private async insertNew(table: TableRef, key: string, keys: string[], rows: Row[]): Promise<void> {
    const stored = await this.storedKeys(table, key, keys);
    const fresh = rows.filter((r) => !stored.has(r[key] as string));
    if (fresh.length > 0) {
      await this.insert(table, fresh);
      const after = await this.storedKeys(table, key, fresh.map((r) => r[key] as string));
      if (after.duplicated) stored.duplicated = true;
    }
    if (stored.duplicated) await this.optimize(table);
  }

  /** The keys among these that are stored, and whether any is stored more than once. */
  private async storedKeys(table: TableRef, key: string, keys: string[]): Promise<Set<string> & { duplicated: boolean }> {
    const stored = Object.assign(new Set<string>(), { duplicated: false });
    for (const list of inLists(keys)) {
      const found = await this.select<[string, string]>(
        `SELECT ${ident(key)}, count() FROM ${tableName(table.schema, table.table)} WHERE ${ident(key)} IN (${list}) GROUP BY ${ident(key)}`,
        `read keys of ${table.schema}.${table.table}`,
      );
      for (const [k, n] of found) {
        stored.add(k);
        if (n !== '1') stored.duplicated = true;
      }
    }
    return stored;
  }

  /**
   * Upsert mode: the stored rows of these keys are read (FINAL: one row per key, the one inserted
   * last), the listed columns replaced, and whole rows inserted; then the table is merged, so
   * once the write resolves every query sees one row per key. Between the insert and the merge a
   * concurrent query can see a key's old and new row. Rows are read and rewritten without a
   * lock: two writers upserting the same key at once can lose one's columns (the row inserted
   * last wins whole). Weir has one loader per source, so that does not happen in Weir itself.
   */
  private async upsert(table: TableRef, key: string, keys: string[], rows: Row[]): Promise<void> {
    const name = tableName(table.schema, table.table);
    const stored = new Map<string, Row>();
    for (const list of inLists(keys)) {
      // JSONEachRow keeps each value in the server's own text form (64-bit integers quoted,
      // DateTime as its wall clock), which the insert below parses back unchanged.
      const result = await this.run(
        () => this.client.query({ query: `SELECT * FROM ${name} FINAL WHERE ${ident(key)} IN (${list})`, format: 'JSONEachRow' }).then((r) => r.json<Row>()),
        `read rows of ${table.schema}.${table.table}`,
      );
      for (const row of result) stored.set(row[key] as string, row);
    }
    const merged = rows.map((row) => ({ ...stored.get(row[key] as string), ...row }));
    await this.insert(table, merged);
    await this.optimize(table);
  }

  private async insert(table: TableRef, rows: Row[]): Promise<void> {
    // No column list: JSONEachRow matches fields by name, and columns a row leaves out get their
    // default, NULL.
    await this.run(() => this.client.insert({ table: tableName(table.schema, table.table), values: rows, format: 'JSONEachRow' }), `write to ${table.schema}.${table.table}`);
  }

  /**
   * Merges all parts of the table so each key is stored once. `optimize_throw_if_noop` makes the
   * server say when it declined (e.g. parts already being merged) instead of silently doing
   * nothing; it is tried again, and when it keeps declining the error is retriable: the rows are
   * written, and writing them again converges (stored keys are skipped or rewritten, and the
   * merge is tried again).
   */
  private async optimize(table: TableRef): Promise<void> {
    const query = `OPTIMIZE TABLE ${tableName(table.schema, table.table)} FINAL`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.command({ query, clickhouse_settings: { optimize_throw_if_noop: 1 } });
        return;
      } catch (err) {
        const server = serverError(err);
        if (!server) throw warehouseError(err, `merge ${table.schema}.${table.table}`);
        if (attempt >= OPTIMIZE_ATTEMPTS) {
          const detail = `rows written to ${table.schema}.${table.table} but OPTIMIZE FINAL declined ${attempt} times (write again): ${server.message}`;
          throw new WeirError('WEIR_WAREHOUSE_BUSY', { engine: 'clickhouse', detail }, { cause: err });
        }
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const settings: ClickHouseSettings = {
      readonly: '1',
      // Whole seconds only: the server-side limit backs up the client-side abort below.
      max_execution_time: Math.max(1, Math.ceil(options.timeoutMs / 1000)),
      // 'break' stops reading at the first block past the limit, so the answer holds at least
      // maxRows + 1 rows when more exist (that is how truncation is known) yet stays bounded.
      max_result_rows: String(options.maxRows + 1),
      result_overflow_mode: 'break',
      // Buffer the answer server-side: an exception after the first rows then arrives as an
      // error status, not appended to a 200 body.
      wait_end_of_query: 1,
      // Not a setting but a URL parameter of the HTTP interface: unqualified tables resolve in
      // the source's schema. The client passes settings through as URL parameters.
      database: options.schema,
    };
    // Booleans are UInt8 in 18.16: which result columns are booleans is known by name from the
    // schema's columns marked as such. Asked in parallel with the query.
    const booleans = this.select<[string]>(
      `SELECT DISTINCT name FROM system.columns WHERE database = ${literal(options.schema)} AND comment = ${literal(BOOLEAN_COMMENT)}`,
      'read boolean columns',
    );
    booleans.catch(() => undefined);
    try {
      return await this.withDeadline(options.timeoutMs, options.timeoutMs, async (queryId, signal) => {
        const result = await this.client.query({ query: sql, format: 'JSONCompact', query_id: queryId, abort_signal: signal, clickhouse_settings: settings });
        const body = await result.json<unknown[]>();
        const names = new Set((await booleans).map(([n]) => n));
        const decoded = decodeResult(body.meta as ResultColumn[], body.data, names, await this.timeZone());
        const truncated = decoded.rows.length > options.maxRows;
        return { columns: decoded.columns, rows: truncated ? decoded.rows.slice(0, options.maxRows) : decoded.rows, truncated };
      });
    } catch (err) {
      throw queryError(err, options.timeoutMs);
    }
  }

  /**
   * Sends one request under its own query id and stops it after `ms`: the request is aborted
   * and the query killed on the server (closing the connection does not stop a query on 18.16;
   * it would run on until max_execution_time). A timeout is `WEIR_QUERY_TIMEOUT` of `reportedMs`.
   */
  private async withDeadline<T>(ms: number, reportedMs: number, request: (queryId: string, signal: AbortSignal) => Promise<T>): Promise<T> {
    const queryId = randomUUID();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ms);
    try {
      return await request(queryId, controller.signal);
    } catch (err) {
      if (!timedOut) throw err;
      await this.client.command({ query: `KILL QUERY WHERE query_id = ${literal(queryId)} ASYNC` }).catch(() => undefined);
      throw new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs: reportedMs }, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async execute(sql: string, options: ExecuteOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    const timeout = (cause?: unknown) => new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs: options.timeoutMs }, { cause });
    for (const statement of splitStatements(sql)) {
      const left = deadline - Date.now();
      if (left <= 0) throw timeout();
      try {
        await this.withDeadline(left, options.timeoutMs, (queryId, signal) =>
          this.client.command({
            query: statement,
            query_id: queryId,
            abort_signal: signal,
            clickhouse_settings: {
              max_execution_time: Math.max(1, Math.ceil(left / 1000)),
              // Errors after the first rows of an INSERT … SELECT arrive as an error status.
              wait_end_of_query: 1,
              database: options.schema,
            },
          }),
        );
      } catch (err) {
        if (err instanceof WeirError) throw err;
        if (serverError(err)?.code === 159) throw timeout(err);
        throw warehouseError(err, 'execute');
      }
      const mutated = mutatedTable(statement, options.schema);
      if (mutated) await this.awaitMutations(mutated, deadline, timeout);
    }
  }

  /**
   * Waits until the table's mutations are done: they run in the background, and 18.16 has no
   * `mutations_sync`. A mutation applies to the parts that existed when it was made, so rows
   * inserted afterwards are safe either way; waiting makes the statement's effect visible before
   * the next one runs, as on the other engines.
   */
  private async awaitMutations(table: TableRef, deadline: number, timeout: () => WeirError): Promise<void> {
    const query = `SELECT count() FROM system.mutations WHERE database = ${literal(table.schema)} AND table = ${literal(table.table)} AND is_done = 0`;
    for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
      const [row] = await this.select<[string]>(query, `wait for mutations of ${table.schema}.${table.table}`);
      if (row?.[0] === '0') return;
      if (Date.now() + pause > deadline) throw timeout();
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** The zone of result DateTimes that carry none (e.g. `now()`), asked once. */
  private timeZone(): Promise<string> {
    this.serverTimeZone ??= this.select<[string]>('SELECT timezone()', 'read time zone').then(
      (rows) => rows[0]?.[0] ?? 'UTC',
      (err: unknown) => {
        this.serverTimeZone = undefined;
        throw err;
      },
    );
    return this.serverTimeZone;
  }

  private async tableColumns(table: TableRef): Promise<Set<string>> {
    const rows = await this.select<[string]>(
      `SELECT name FROM system.columns WHERE database = ${literal(table.schema)} AND table = ${literal(table.table)}`,
      `describe ${table.schema}.${table.table}`,
    );
    return new Set(rows.map(([n]) => n));
  }

  private async select<T extends unknown[]>(query: string, what: string): Promise<T[]> {
    return this.run(async () => (await (await this.client.query({ query, format: 'JSONCompact' })).json<T>()).data, what);
  }

  private async command(query: string, what: string): Promise<void> {
    await this.run(() => this.client.command({ query }), what);
  }

  private async run<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw warehouseError(err, what);
    }
  }
}
