import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WeirConfig } from '../config/schema.js';
import type { EventLog } from '../log/event-log.js';
import { nodeFileLayer, type FileLayer } from '../log/file-layer.js';
import { openFileEventLog } from '../log/file/index.js';
import type { Logger } from '../observability/logger.js';
import type { StateStore } from '../state/state-store.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { openDuckDbWarehouse } from '../warehouse/duckdb/index.js';
import { openPostgresWarehouse } from '../warehouse/postgres/index.js';
import { openClickHouseWarehouse } from '../warehouse/clickhouse/index.js';
import { WeirError } from '../errors/catalogue.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import type { PipelineStore } from '../pipelines/store/pipeline-store.js';
import { openSqlitePipelineStore } from '../pipelines/store/open.js';

/**
 * Opens the backends a configuration names. This is the one place that picks adapters, so adding
 * one (NATS, Postgres) is a change here and in the schema.
 *
 * @example
 * ```ts
 * const state = await openState(config);
 * const log = await openLog(config, { logger });
 * ```
 */
export async function openState(config: WeirConfig): Promise<StateStore> {
  mkdirSync(config.dataDir, { recursive: true });
  return openSqliteStateStore({ file: join(config.dataDir, 'weir.sqlite') });
}

/** The pipeline store (runs, tasks, attempts, check results) in the metadata database. */
export async function openPipelineStore(config: WeirConfig): Promise<PipelineStore> {
  mkdirSync(config.dataDir, { recursive: true });
  return openSqlitePipelineStore({ file: join(config.dataDir, 'weir.sqlite') });
}

/**
 * The two streams: `events` (accepted events, read by every sink) and `failed` (items refused
 * with a reason, read by the failed-events store). Keeping them apart means sinks never skip over
 * failed records, and the failed-events store never reads the whole event stream.
 */
export type LogStream = 'events' | 'failed';

/** Where a stream's file log lives under the data directory. */
export function logDir(config: WeirConfig, stream: LogStream): string {
  return join(config.dataDir, stream === 'events' ? 'log' : 'failed-log');
}

export async function openLog(
  config: WeirConfig,
  opts: { stream?: LogStream; logger?: Logger; fileLayer?: FileLayer; onCorrupt?: (info: unknown) => void } = {},
): Promise<EventLog> {
  const dir = logDir(config, opts.stream ?? 'events');
  mkdirSync(dir, { recursive: true });
  return openFileEventLog({
    dir,
    fileLayer: opts.fileLayer ?? nodeFileLayer,
    segmentBytes: config.log.segmentBytes,
    logger: opts.logger,
    onCorrupt: opts.onCorrupt,
  });
}

/**
 * The configured warehouse, or undefined when `warehouse.engine` is `none` (a collector-only
 * process). DuckDB is a file under the data directory that only one process may open.
 */
export async function openWarehouse(config: WeirConfig): Promise<Warehouse | undefined> {
  const { engine, url } = config.warehouse;
  if (engine === 'none') return undefined;
  if (engine === 'duckdb') return openDuckDbWarehouse({ file: join(config.dataDir, 'warehouse.duckdb') });
  if (url === '') {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `warehouse.url (WEIR_WAREHOUSE_URL) is required for warehouse.engine = "${engine}"` });
  }
  return engine === 'postgres' ? openPostgresWarehouse({ url }) : openClickHouseWarehouse({ url });
}
