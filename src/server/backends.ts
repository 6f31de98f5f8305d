import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WeirConfig } from '../config/schema.js';
import type { EventLog } from '../log/event-log.js';
import { nodeFileLayer, type FileLayer } from '../log/file-layer.js';
import { openFileEventLog } from '../log/file/index.js';
import { openNatsEventLog } from '../log/nats/index.js';
import type { Logger } from '../observability/logger.js';
import type { StateStore } from '../state/state-store.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { openDuckDbWarehouse } from '../warehouse/duckdb/index.js';
import { WeirError } from '../errors/catalogue.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import type { PipelineStore } from '../pipelines/store/pipeline-store.js';
import { openPostgresPipelineStore, openSqlitePipelineStore } from '../pipelines/store/open.js';
import { openPostgresStateStore, type PostgresDatabaseOptions } from '../state/postgres/index.js';

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
  const postgres = postgresMetadata(config);
  if (postgres !== undefined) return openPostgresStateStore(postgres);
  mkdirSync(config.dataDir, { recursive: true });
  return openSqliteStateStore({ file: join(config.dataDir, 'weir.sqlite') });
}

/** The pipeline store (runs, tasks, attempts, check results) in the metadata database. */
export async function openPipelineStore(config: WeirConfig): Promise<PipelineStore> {
  const postgres = postgresMetadata(config);
  if (postgres !== undefined) return openPostgresPipelineStore(postgres);
  mkdirSync(config.dataDir, { recursive: true });
  return openSqlitePipelineStore({ file: join(config.dataDir, 'weir.sqlite') });
}

/** Where the metadata lives on Postgres, or undefined for the embedded SQLite file. */
function postgresMetadata(config: WeirConfig): PostgresDatabaseOptions | undefined {
  const { backend, postgresUrl, postgresSchema } = config.state;
  if (backend === 'sqlite') return undefined;
  if (postgresUrl === '') {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'state.postgresUrl (WEIR_STATE_POSTGRES_URL) is required for state.backend = "postgres"' });
  }
  return { url: postgresUrl, schema: postgresSchema === '' ? undefined : postgresSchema };
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

/**
 * The configured event log for one stream: segment files under the data directory, or NATS
 * JetStream (`log.backend: nats`), where the stream's partitions are `<stream>_EVENTS_P<n>` /
 * `<stream>_FAILED_P<n>` on subjects `<subjectPrefix>.events.p<n>` / `.failed.p<n>`.
 */
export async function openLog(
  config: WeirConfig,
  opts: { stream?: LogStream; logger?: Logger; fileLayer?: FileLayer; onCorrupt?: (info: unknown) => void } = {},
): Promise<EventLog> {
  const stream = opts.stream ?? 'events';
  if (config.log.backend === 'nats') {
    const nats = config.log.nats;
    return openNatsEventLog({
      servers: nats.servers.split(',').map((s) => s.trim()).filter((s) => s !== ''),
      stream: `${nats.stream}_${stream.toUpperCase()}`,
      subjectPrefix: `${nats.subjectPrefix}.${stream}`,
      replicas: nats.replicas,
      duplicateWindowMs: nats.duplicateWindowMs,
      publishTimeoutMs: nats.publishTimeoutMs,
      writerLeaseMs: nats.writerLeaseMs,
      logger: opts.logger,
    });
  }
  const dir = logDir(config, stream);
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
  if (engine === 'duckdb') {
    // Test only, and read nowhere else: the reliability suite's proof that its duplicate check can fail.
    const keepDuplicates = process.env.WEIR_TEST_DISABLE_DEDUP === '1';
    return openDuckDbWarehouse({ file: join(config.dataDir, 'warehouse.duckdb'), keepDuplicates });
  }
  if (url === '') {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `warehouse.url (WEIR_WAREHOUSE_URL) is required for warehouse.engine = "${engine}"` });
  }
  // Loaded on first use, so processes that never open a warehouse (collectors) start faster after a crash.
  if (engine === 'postgres') return (await import('../warehouse/postgres/index.js')).openPostgresWarehouse({ url });
  return (await import('../warehouse/clickhouse/index.js')).openClickHouseWarehouse({ url });
}
