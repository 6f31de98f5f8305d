/**
 * The long lake operations that write into the warehouse: reloading it from the lake, and
 * loading an imported file as a table. They run where the warehouse is open (the sinks process
 * of `weir up`, or the CLI itself when no server holds the warehouse) and report progress
 * through a callback, so the CLI can draw a bar either way.
 *
 * @example
 * ```ts
 * await replayFromLake({ blob, warehouse, schema: 'web', sourceId: 'src_1', since: '2026-11-01', cacheDir }, (p) => console.log(p));
 * ```
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, extname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BlobStore } from '../blob/blob-store.js';
import { WeirError } from '../errors/catalogue.js';
import type { LakeFile, StateStore } from '../state/state-store.js';
import { quoteIdent, quoteLiteral, weirTypeOf } from '../warehouse/duckdb/duckdb-sql.js';
import { jsonFromDuckDb } from '../warehouse/duckdb/duckdb-values.js';
import { TableWriter } from '../warehouse/table-writer.js';
import type { ColumnSpec, ColumnType, Value, Warehouse } from '../warehouse/warehouse.js';
import { uploadKey } from './lake-layout.js';
import { localLakePaths, readLakeEvents } from './lake-reader.js';

export interface Progress {
  done: number;
  total: number;
  unit: string;
}

export interface ReplayFromLakeRequest {
  sourceId: string;
  /** First date, YYYY-MM-DD. */
  since: string;
  until?: string;
}

/**
 * Loads a source's lake files since a date into the warehouse again. Idempotent: every event
 * table write skips messageIds already stored, so a reload fills gaps and doubles nothing.
 */
export async function replayFromLake(
  opts: ReplayFromLakeRequest & { blob: BlobStore; warehouse: Warehouse; schema: string; cacheDir: string },
  onProgress?: (p: Progress) => void,
): Promise<{ events: number; files: number }> {
  const writer = new TableWriter(opts.warehouse);
  let events = 0;
  let files = 0;
  for await (const batch of readLakeEvents(opts.blob, opts.sourceId, { since: opts.since, until: opts.until, cacheDir: opts.cacheDir }, (done, total) => {
    files = done;
    onProgress?.({ done, total, unit: 'files' });
  })) {
    await writer.load(opts.schema, batch, new Date());
    events += batch.length;
  }
  return { events, files };
}

/** The file formats `weir import` reads, by extension. */
export const IMPORT_FORMATS: Record<string, string> = {
  '.csv': 'read_csv_auto',
  '.tsv': 'read_csv_auto',
  '.json': 'read_json_auto',
  '.ndjson': 'read_json_auto',
  '.jsonl': 'read_json_auto',
  '.parquet': 'read_parquet',
};

export function importFormat(fileName: string): string {
  const reader = IMPORT_FORMATS[extname(fileName).toLowerCase()];
  if (!reader) {
    throw new WeirError('WEIR_CLI_INVALID_OPTION', {
      option: 'file',
      value: JSON.stringify(fileName),
      detail: `the file must end in one of ${Object.keys(IMPORT_FORMATS).join(', ')}`,
    });
  }
  return reader;
}

/** A content hash of a file: the same file imported twice is the same upload. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Stores an original file in the lake under `uploads/`, after checking the workspace's storage
 * quota (`WEIR_LAKE_QUOTA_EXCEEDED`, nothing stored). Returns the lake key.
 */
export async function storeUpload(
  opts: { blob: BlobStore; state: Pick<StateStore, 'getWorkspace' | 'lakeBytes' | 'putLakeFile'>; sourceId: string; workspaceId: string; path: string; size: number },
  onProgress?: (p: Progress) => void,
): Promise<LakeFile> {
  importFormat(opts.path);
  const workspace = await opts.state.getWorkspace(opts.workspaceId);
  const quota = workspace?.settings.storageQuotaBytes ?? null;
  if (quota !== null) {
    const used = await opts.state.lakeBytes(opts.workspaceId);
    if (used + opts.size > quota) {
      throw new WeirError('WEIR_LAKE_QUOTA_EXCEEDED', { size: opts.size, used, quota });
    }
  }
  const id = await fileDigest(opts.path);
  const key = uploadKey(opts.sourceId, id, basename(opts.path));
  const stream = createReadStream(opts.path);
  let sent = 0;
  stream.on('data', (chunk) => {
    sent += chunk.length;
    onProgress?.({ done: sent, total: opts.size, unit: 'bytes' });
  });
  const { size } = await opts.blob.put(key, stream);
  const file: LakeFile = {
    key,
    sourceId: opts.sourceId,
    workspaceId: opts.workspaceId,
    kind: 'upload',
    date: new Date().toISOString().slice(0, 10),
    partition: -1,
    firstOffset: 0,
    lastOffset: 0,
    events: 0,
    bytes: size,
    state: 'stored',
    createdAt: new Date(),
  };
  await opts.state.putLakeFile(file);
  return file;
}

function cell(type: ColumnType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'timestamp': {
      const d = new Date(String(v));
      return Number.isNaN(d.getTime()) ? null : d;
    }
    case 'bigint':
      return typeof v === 'number' ? v : Number(v);
    case 'double':
      return Number(v);
    case 'boolean':
      return Boolean(v);
    default:
      return typeof v === 'string' ? v : JSON.stringify(v);
  }
}

/** The key column of an imported table: `<upload id>:<row number>`, so a re-import adds nothing. */
export const IMPORT_ROW_KEY = '_weir_row';
const IMPORT_BATCH = 5000;

export interface ImportRequest {
  key: string;
  table: string;
  sourceId: string;
}

/**
 * Loads an uploaded file from the lake into `schema.table` of the warehouse. Column types come
 * from DuckDB's reader (CSV sniffing, JSON and Parquet schemas), mapped to the warehouse's types.
 */
export async function loadUpload(
  opts: ImportRequest & { blob: BlobStore; warehouse: Warehouse; schema: string; cacheDir: string },
  onProgress?: (p: Progress) => void,
): Promise<{ rows: number; columns: ColumnSpec[] }> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.table)) {
    throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--table', value: JSON.stringify(opts.table), detail: 'lower-case letters, digits and _, starting with a letter or _' });
  }
  const info = await opts.blob.stat(opts.key);
  if (!info) throw new WeirError('WEIR_BLOB_NOT_FOUND', { key: opts.key, store: opts.blob.kind });
  const [path] = await localLakePaths(opts.blob, [info], opts.cacheDir);
  const reader = importFormat(opts.key);
  const uploadId = /\/([0-9a-f]{16})-[^/]*$/.exec(opts.key)?.[1] ?? opts.key;
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  try {
    await conn.run(`create view upload as select * from ${reader}(${quoteLiteral(path!)})`);
    const described = await conn.runAndReadAll('describe upload');
    const columns: ColumnSpec[] = described.getRowObjects().map((r) => ({ name: String(r.column_name), type: weirTypeOf(String(r.column_type)) }));
    if (columns.length === 0) throw new WeirError('WEIR_QUERY_FAILED', { detail: 'the file has no columns' });
    const total = Number((await conn.runAndReadAll('select count(*) from upload')).getRows()[0]?.[0] ?? 0);
    const specs: ColumnSpec[] = [{ name: IMPORT_ROW_KEY, type: 'varchar' }, ...columns.filter((c) => c.name !== IMPORT_ROW_KEY)];
    const ref = { schema: opts.schema, table: opts.table };
    await opts.warehouse.ensureSchema(opts.schema);
    await opts.warehouse.createTable(ref, specs, IMPORT_ROW_KEY);
    await opts.warehouse.addColumns(ref, specs);
    const list = columns.map((c) => quoteIdent(c.name)).join(', ');
    const result = await conn.stream(`select ${list} from upload`);
    let rowNumber = 0;
    let batch: Value[][] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await opts.warehouse.write(ref, specs, batch, 'insert', IMPORT_ROW_KEY);
      batch = [];
      onProgress?.({ done: rowNumber, total, unit: 'rows' });
    };
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const row of chunk.convertRows(jsonFromDuckDb)) {
        batch.push([`${uploadId}:${rowNumber++}`, ...columns.map((c, i) => cell(c.type, row[i]))]);
        if (batch.length >= IMPORT_BATCH) await flush();
      }
    }
    await flush();
    return { rows: rowNumber, columns: specs };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
