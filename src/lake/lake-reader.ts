/**
 * Reading the lake back: SQL over a source's Parquet files with an in-memory DuckDB, where the
 * view `events` is `read_parquet(<files>, hive_partitioning = true)` (columns of
 * `LAKE_COLUMNS` plus `source`, `date` and `hour`). A local lake is read in place; a remote one
 * (S3, Azure) through a local cache holding only the partitions the date range needs.
 *
 * @example
 * ```ts
 * const r = await queryLake({ blob, sourceId: 'src_1', sql: 'select count(*) from events', cacheDir: '.weir/lake-cache' });
 * ```
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { downloadToFile, type BlobInfo, type BlobStore } from '../blob/blob-store.js';
import { WeirError } from '../errors/catalogue.js';
import { DUCKDB_TYPE, quoteIdent, quoteLiteral } from '../warehouse/duckdb/duckdb-sql.js';
import { jsonFromDuckDb } from '../warehouse/duckdb/duckdb-values.js';
import type { QueryResult } from '../warehouse/warehouse.js';
import { parseEventFileKey, sourcePrefix } from './lake-layout.js';
import { LAKE_COLUMNS, eventFromLakeRow } from './parquet-writer.js';

export interface LakeRange {
  /** First date (YYYY-MM-DD, inclusive). */
  since?: string;
  /** Last date (YYYY-MM-DD, inclusive). */
  until?: string;
}

/** The event files of a source, optionally within a date range, sorted by key. */
export async function lakeEventFiles(blob: BlobStore, sourceId: string, range: LakeRange = {}): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const info of blob.list(sourcePrefix(sourceId))) {
    const k = parseEventFileKey(info.key);
    if (!k) continue;
    if (range.since !== undefined && k.date < range.since) continue;
    if (range.until !== undefined && k.date > range.until) continue;
    out.push(info);
  }
  return out;
}

/**
 * Local paths of the files: in place for a local lake, else downloaded into `cacheDir` (kept
 * while their size matches, so a second query downloads nothing).
 */
export async function localLakePaths(blob: BlobStore, files: BlobInfo[], cacheDir: string, onFile?: (done: number, total: number) => void): Promise<string[]> {
  const paths: string[] = [];
  let done = 0;
  for (const f of files) {
    let path = blob.localPath(f.key);
    if (path === undefined) {
      path = join(cacheDir, f.key);
      if (!existsSync(path) || statSync(path).size !== f.size) {
        mkdirSync(dirname(path), { recursive: true });
        await downloadToFile(blob, f.key, path);
      }
    }
    paths.push(path);
    onFile?.(++done, files.length);
  }
  return paths;
}

const EMPTY_EVENTS = `select ${LAKE_COLUMNS.map((c) => `null::${DUCKDB_TYPE[c.type]} as ${quoteIdent(c.name)}`).join(', ')}, null::varchar as source, null::date as date, null::bigint as hour where false`;

/** An in-memory DuckDB with the view `events` over the given Parquet files. */
export async function openLakeView(paths: string[]): Promise<{ conn: DuckDBConnection; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  const list = `[${paths.map(quoteLiteral).join(', ')}]`;
  await conn.run(
    paths.length === 0
      ? `create view events as ${EMPTY_EVENTS}`
      : `create view events as select * from read_parquet(${list}, hive_partitioning = true, union_by_name = true)`,
  );
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

export interface LakeQueryOptions extends LakeRange {
  blob: BlobStore;
  sourceId: string;
  sql: string;
  cacheDir: string;
  maxRows?: number;
  timeoutMs?: number;
}

/** Runs SQL over the `events` view of a source's lake. */
export async function queryLake(opts: LakeQueryOptions): Promise<QueryResult & { files: number }> {
  const files = await lakeEventFiles(opts.blob, opts.sourceId, opts);
  const paths = await localLakePaths(opts.blob, files, opts.cacheDir);
  const view = await openLakeView(paths);
  const maxRows = opts.maxRows ?? 10_000;
  const timer = setTimeout(() => view.conn.interrupt(), opts.timeoutMs ?? 60_000);
  try {
    const result = await view.conn.stream(opts.sql).catch((err: unknown) => {
      throw new WeirError('WEIR_QUERY_FAILED', { detail: err instanceof Error ? err.message : String(err) });
    });
    const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    const rows: unknown[][] = [];
    while (rows.length <= maxRows) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      rows.push(...chunk.convertRows(jsonFromDuckDb));
    }
    const truncated = rows.length > maxRows;
    if (truncated) rows.length = maxRows;
    return { columns, rows, truncated, files: files.length };
  } finally {
    clearTimeout(timer);
    view.close();
  }
}

/**
 * The events of a source's lake files, in batches, as Segment events again (for reloading the
 * warehouse). Files are read one at a time, so memory stays at one file.
 */
export async function* readLakeEvents(
  blob: BlobStore,
  sourceId: string,
  range: LakeRange & { cacheDir: string; batch?: number },
  onProgress?: (filesDone: number, filesTotal: number) => void,
): AsyncGenerator<Array<Record<string, unknown>>> {
  const files = await lakeEventFiles(blob, sourceId, range);
  let done = 0;
  for (const f of files) {
    const [path] = await localLakePaths(blob, [f], range.cacheDir);
    const view = await openLakeView([path!]);
    try {
      const result = await view.conn.stream('select * from events order by log_partition, log_offset');
      const names = result.columnNames();
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const batch = chunk.convertRows(jsonFromDuckDb).map((row) => eventFromLakeRow(Object.fromEntries(names.map((n, i) => [n, row[i]]))));
        yield batch;
      }
    } finally {
      view.close();
    }
    onProgress?.(++done, files.length);
  }
}

