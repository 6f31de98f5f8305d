/**
 * Turns Segment events into Parquet files with an in-memory DuckDB: rows are appended into one
 * table per open lake file (columnar and compressed in memory, so a 64 MB file does not mean
 * 500 MB of JavaScript objects), and `COPY … TO` writes the file when it is cut.
 *
 * The envelope is typed; `properties`, `context`, `traits` and `integrations` are JSON text, so
 * the schema never changes with what clients send and every engine can read every file.
 *
 * @example
 * ```ts
 * const pw = await ParquetWriter.open();
 * const t = await pw.create();
 * await pw.append(t, [{ event, partition: 0, offset: 7 }]);
 * await pw.writeFile(t, '/tmp/x.parquet'); // and drops the table
 * ```
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { toChunks } from '../warehouse/duckdb/duckdb-warehouse.js';
import { DUCKDB_TYPE, quoteIdent, quoteLiteral } from '../warehouse/duckdb/duckdb-sql.js';
import type { ColumnSpec, Value } from '../warehouse/warehouse.js';

/** The columns of every lake event file, in order. */
export const LAKE_COLUMNS: ColumnSpec[] = [
  { name: 'message_id', type: 'varchar' },
  { name: 'type', type: 'varchar' },
  { name: 'event', type: 'varchar' },
  { name: 'name', type: 'varchar' },
  { name: 'user_id', type: 'varchar' },
  { name: 'anonymous_id', type: 'varchar' },
  { name: 'group_id', type: 'varchar' },
  { name: 'previous_id', type: 'varchar' },
  { name: 'timestamp', type: 'timestamp' },
  { name: 'original_timestamp', type: 'timestamp' },
  { name: 'sent_at', type: 'timestamp' },
  { name: 'received_at', type: 'timestamp' },
  { name: 'properties', type: 'varchar' },
  { name: 'context', type: 'varchar' },
  { name: 'traits', type: 'varchar' },
  { name: 'integrations', type: 'varchar' },
  { name: 'log_partition', type: 'bigint' },
  { name: 'log_offset', type: 'bigint' },
];

export interface LakeEvent {
  event: Record<string, unknown>;
  partition: number;
  offset: number;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : v === undefined || v === null ? null : String(v);
}

function time(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

/** One event as a row of {@link LAKE_COLUMNS}. */
export function lakeRow(e: LakeEvent): Value[] {
  const ev = e.event;
  return [
    str(ev.messageId),
    str(ev.type),
    str(ev.event),
    str(ev.name),
    str(ev.userId),
    str(ev.anonymousId),
    str(ev.groupId),
    str(ev.previousId),
    time(ev.timestamp),
    time(ev.originalTimestamp),
    time(ev.sentAt),
    time(ev.receivedAt),
    json(ev.properties),
    json(ev.context),
    json(ev.traits),
    json(ev.integrations),
    e.partition,
    e.offset,
  ];
}

/** The inverse of {@link lakeRow}: a lake row (as DuckDB returns it, JSON-friendly) back into an event. */
export function eventFromLakeRow(row: Record<string, unknown>): Record<string, unknown> {
  const ev: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== null && v !== undefined) ev[k] = v;
  };
  put('messageId', row.message_id);
  put('type', row.type);
  put('event', row.event);
  put('name', row.name);
  put('userId', row.user_id);
  put('anonymousId', row.anonymous_id);
  put('groupId', row.group_id);
  put('previousId', row.previous_id);
  for (const [k, col] of [
    ['timestamp', 'timestamp'],
    ['originalTimestamp', 'original_timestamp'],
    ['sentAt', 'sent_at'],
    ['receivedAt', 'received_at'],
  ] as const) {
    const v = row[col];
    if (v !== null && v !== undefined) ev[k] = new Date(String(v)).toISOString();
  }
  for (const [k, col] of [
    ['properties', 'properties'],
    ['context', 'context'],
    ['traits', 'traits'],
    ['integrations', 'integrations'],
  ] as const) {
    const v = row[col];
    if (typeof v === 'string') ev[k] = JSON.parse(v);
  }
  return ev;
}

const DEFS = LAKE_COLUMNS.map((c) => `${quoteIdent(c.name)} ${DUCKDB_TYPE[c.type]}`).join(', ');

export class ParquetWriter {
  #next = 0;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  static async open(options: { memoryLimit?: string } = {}): Promise<ParquetWriter> {
    const instance = await DuckDBInstance.create(':memory:', {
      // One thread: the sinks process runs beside the collectors and must stay small.
      threads: '1',
      memory_limit: options.memoryLimit ?? '512MB',
    });
    return new ParquetWriter(instance, await instance.connect());
  }

  /** A fresh table for one open file. */
  async create(): Promise<string> {
    const table = `f${this.#next++}`;
    await this.#serial(() => this.conn.run(`create table ${quoteIdent(table)} (${DEFS})`));
    return table;
  }

  async append(table: string, events: LakeEvent[]): Promise<void> {
    if (events.length === 0) return;
    const chunks = toChunks(LAKE_COLUMNS, events.map(lakeRow));
    await this.#serial(async () => {
      const appender = await this.conn.createAppender(table);
      try {
        for (const chunk of chunks) appender.appendDataChunk(chunk);
      } finally {
        appender.closeSync();
      }
    });
  }

  /**
   * Writes the table's rows, in log order, as one zstd-compressed Parquet file, then drops the
   * table. Returns the file's size.
   */
  async writeFile(table: string, path: string): Promise<void> {
    await this.#serial(async () => {
      await this.conn.run(
        `copy (select * from ${quoteIdent(table)} order by log_partition, log_offset) to ${quoteLiteral(path)} (format parquet, compression zstd)`,
      );
      await this.conn.run(`drop table ${quoteIdent(table)}`);
    });
  }

  async drop(table: string): Promise<void> {
    await this.#serial(() => this.conn.run(`drop table if exists ${quoteIdent(table)}`));
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }

  // The connection runs one statement at a time; callers from different files share it.
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
