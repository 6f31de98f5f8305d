import type { WeirConfig } from '../config/schema.js';
import { WeirError } from '../errors/catalogue.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { runFailedEventsConsumer } from '../consumers/failed-events-consumer.js';
import { runUsageMeter } from '../consumers/usage-meter.js';
import { runWarehouseLoader, WAREHOUSE_GROUP } from '../warehouse/loader.js';
import { SourceSchemas } from '../warehouse/source-schemas.js';
import { runQuery, type QueryRequest } from '../warehouse/run-query.js';
import { logDir, openLog, openPipelineStore, openState, openWarehouse } from './backends.js';
import { existsSync } from 'node:fs';
import { startPipelineWorker } from '../pipelines/index.js';
import { IpcChannel } from './ipc.js';
import { drainOnce } from './drain-signals.js';
import type { BlobStore } from '../blob/blob-store.js';
import { LAKE_GROUP, runLakeWriter } from '../lake/lake-writer.js';
import { loadUpload, replayFromLake, type ImportRequest, type ReplayFromLakeRequest } from '../lake/lake-tasks.js';
import { lakeCacheDir, openLake } from '../lake/open-lake.js';
import { enforceRetention } from '../lake/retention.js';
import { TaskBoard } from './task-board.js';
import { startRealtime } from '../realtime/start-realtime.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { WORKER_ROLES, type WorkerRole } from './roles.js';
import { REALTIME_GROUP } from '../realtime/aggregator.js';
import type { EventLog } from '../log/event-log.js';

/** A long operation the API asks the sinks process to run (see `TaskBoard`). */
export type SinksTask = { kind: 'lake-replay'; request: ReplayFromLakeRequest } | { kind: 'import'; request: ImportRequest };

/** The warehouse as the sinks process sees it, for `/readyz`. */
export interface SinkStatus {
  engine: string;
  ok: boolean;
  /** Events in the log not yet in the warehouse. */
  lag: number;
  error?: string;
  failingSince?: string;
}

/**
 * The sinks process of `weir up`: the consumers that read the log (the warehouse loader, the
 * failed-events store and the usage meter) and the warehouse itself, which answers console
 * queries relayed by the supervisor. It drains on the supervisor's `weir:drain`, SIGTERM, SIGINT or when the supervisor
 * goes away: consumers stop after their current batch, whose offsets are committed only if it
 * was stored.
 *
 * @example
 * ```ts
 * await runSinksWorker(config); // runs until drained
 * ```
 */
export async function runSinksWorker(config: WeirConfig, options: SinksOptions = {}): Promise<void> {
  const roles = options.roles ?? new Set(WORKER_ROLES);
  const has = (role: WorkerRole) => roles.has(role);
  const logger = createLogger(config.logging.level, { role: options.http ? 'worker' : 'sinks' });
  // Standalone, the worker's /metrics carries its own process metrics; in `weir up` the collectors' do.
  const metrics = createMetrics({ role: 'sinks', defaultMetrics: options.http === true });
  const state = await openState(config);
  const eventsLog = await openLog(config, { logger });
  const failedLog = await openLog(config, { logger, stream: 'failed' });
  const warehouse = await openWarehouse(config);
  const schemas = new SourceSchemas(state);
  const stop = new AbortController();
  /** What `/readyz` reports about the warehouse: reachable, and how far behind the log. */
  const status: SinkStatus = { engine: config.warehouse.engine, ok: true, lag: 0 };

  const blob: BlobStore | undefined = config.lake.enabled && (has('lake') || has('loader')) ? await openLake(config) : undefined;
  const workspaceOf = async (sourceId: string) => (await state.getSource(sourceId))?.workspaceId ?? 'unknown';
  const lakeWriter = blob && has('lake')
    ? runLakeWriter({
        log: eventsLog,
        blob,
        state,
        workspaceOf,
        logger,
        signal: stop.signal,
        maxFileBytes: config.lake.maxFileBytes,
        maxFileAgeMs: config.lake.maxFileAgeMs,
        onFile: (f) => {
          metrics.lakeFiles.inc();
          metrics.lakeBytes.inc(f.bytes);
          metrics.lakeEvents.inc(f.events);
        },
        onError: (err) => metrics.lakeErrors.inc({ code: err instanceof WeirError ? err.code : 'unexpected' }),
      }).catch((err) => logger.error({ err }, 'lake writer stopped'))
    : Promise.resolve();
  const retention = setInterval(() => {
    if (!has('lake') && !has('loader')) return;
    enforceRetention({ state, blob, warehouse, schemaOf: (id) => schemas.schemaOf(id) })
      .then((r) => (r.lakeFilesDeleted > 0 || r.warehouseTables > 0) && logger.info(r, 'retention applied'))
      .catch((err) => logger.warn({ err }, 'retention failed; trying again later'));
  }, config.lake.retentionCheckMs);
  retention.unref();
  // The lake writer and the real-time aggregator report no lag of their own: measured from the
  // log, once they have committed (before that the whole log would count as behind).
  const lagSampler = setInterval(() => {
    groupLags(eventsLog, [...(has('lake') ? [LAKE_GROUP] : []), ...(has('realtime') ? [REALTIME_GROUP] : [])], { committedOnly: true })
      .then((lags) => {
        for (const [group, lag] of lags) metrics.consumerLag.set({ group }, lag);
      })
      .catch((err) => logger.warn({ err }, 'cannot measure consumer lag; trying again later'));
  }, 5000);
  lagSampler.unref();
  const tasks = new TaskBoard();
  const startTask = (task: SinksTask): string => {
    if (!blob) throw new WeirError('WEIR_LAKE_DISABLED');
    if (!warehouse) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'no warehouse is configured' });
    const cacheDir = lakeCacheDir(config);
    return tasks.start(task.kind, async (progress) => {
      const schema = await schemas.schemaOf(task.request.sourceId);
      return task.kind === 'import'
        ? loadUpload({ ...task.request, blob, warehouse, schema, cacheDir }, progress)
        : replayFromLake({ ...task.request, blob, warehouse, schema, cacheDir }, progress);
    });
  };

  // The loader's watermark for pipeline triggers: everything received before it is in the
  // warehouse. Caught up, that is now; behind, the oldest of the partitions' last loaded events.
  const loadedUntil = new Map<number, string>();
  const watermark = async (): Promise<Date | undefined> => {
    if (!warehouse) return undefined;
    const committed = (await eventsLog.groups()).get(WAREHOUSE_GROUP);
    let oldest: string | undefined;
    for (const st of await eventsLog.stats()) {
      if (st.nextOffset - (committed?.get(st.partition) ?? st.firstOffset) <= 0) continue;
      const at = loadedUntil.get(st.partition);
      if (at === undefined) return undefined;
      if (oldest === undefined || at < oldest) oldest = at;
    }
    return oldest === undefined ? new Date() : new Date(oldest);
  };
  // Pipelines run where the warehouse is open: here, in `weir up`.
  const pipelineStore = warehouse && has('pipelines') && existsSync(config.pipelines.dir) ? await openPipelineStore(config) : undefined;
  const pipelines =
    pipelineStore && warehouse
      ? startPipelineWorker({
          store: pipelineStore,
          warehouse,
          dir: config.pipelines.dir,
          logger,
          signal: stop.signal,
          watermark,
          schema: config.pipelines.schema,
          sourceSchema: config.pipelines.sourceSchema,
          concurrency: config.pipelines.concurrency,
          leaseMs: config.pipelines.leaseMs,
          onAttempt: (_task, outcome, seconds) => {
            metrics.pipelineAttempts.inc({ outcome });
            metrics.pipelineTaskSeconds.observe({ outcome }, seconds);
          },
          onRunning: (n) => metrics.pipelineTasksRunning.set(n),
          onTriggered: (trigger) => metrics.pipelineRunsTriggered.inc({ trigger }),
        })
      : undefined;

  const failedEvents = has('failed')
    ? runFailedEventsConsumer({
        log: failedLog,
        state,
        logger,
        signal: stop.signal,
        onLag: (n) => metrics.consumerLag.set({ group: 'failed-events' }, n),
      }).catch((err) => logger.error({ err }, 'failed-events consumer stopped'))
    : Promise.resolve();
  const usageMeter = has('usage')
    ? runUsageMeter({
        eventsLog,
        failedLog,
        state,
        logger,
        signal: stop.signal,
        onLag: (stream, n) => metrics.consumerLag.set({ group: `usage-${stream}` }, n),
      }).catch((err) => logger.error({ err }, 'usage meter stopped'))
    : Promise.resolve();
  const loader = warehouse && has('loader')
    ? runWarehouseLoader({
        log: eventsLog,
        warehouse,
        schemaOf: (sourceId) => schemas.schemaOf(sourceId),
        logger,
        signal: stop.signal,
        maxRecords: config.warehouse.batchMaxRecords,
        maxWaitMs: config.warehouse.batchMaxWaitMs,
        logDir: logDir(config, 'events'),
        onBatch: (s) => {
          for (const [partition, at] of s.loadedUntil) loadedUntil.set(partition, at);
          Object.assign(status, { ok: true, lag: s.lag, error: undefined, failingSince: undefined });
          metrics.consumerLag.set({ group: 'warehouse' }, s.lag);
          metrics.warehouseRows.inc(s.rows);
          metrics.warehouseDiscards.inc(s.discards);
          metrics.warehouseBatch.observe(s.ms / 1000);
        },
        onError: (err) => {
          status.ok = false;
          status.error = err instanceof Error ? err.message : String(err);
          status.failingSince ??= new Date().toISOString();
          metrics.warehouseErrors.inc({ code: err instanceof WeirError ? err.code : 'unexpected' });
        },
      }).catch((err) => logger.error({ err }, 'warehouse loader stopped'))
    : Promise.resolve();

  const realtime = has('realtime')
    ? startRealtime({ config, log: eventsLog, logger, metrics, signal: stop.signal })
    : { handlers: {}, done: Promise.resolve() };

  /** The loader's health and lag, from the log rather than the last batch: before the first batch, or while the warehouse is down, no batch reports how far behind the loader is. */
  const sinkStatus = async (): Promise<SinkStatus> => {
    if (warehouse && has('loader')) {
      const lag = (await groupLags(eventsLog, [WAREHOUSE_GROUP])).get(WAREHOUSE_GROUP) ?? 0;
      status.lag = lag;
      metrics.consumerLag.set({ group: 'warehouse' }, lag);
    }
    return status;
  };
  const http = options.http ? await serveWorkerHttp(config, logger, metrics, sinkStatus, [...roles]) : undefined;

  const supervisor = new IpcChannel(process);
  supervisor.serve({
    ...realtime.handlers,
    'weir:query': (payload) => runQuery({ warehouse, schemas, state, config }, payload as QueryRequest),
    'weir:metrics': () => metrics.registry.metrics(),
    'weir:task-start': async (payload) => startTask(payload as SinksTask),
    'weir:task-get': async (payload) => tasks.get(String(payload)),
    'weir:status': sinkStatus,
  });

  drainOnce({
    logger,
    timeoutMs: config.server.drainTimeoutMs,
    async close() {
      await http?.close();
      stop.abort();
      clearInterval(retention);
      clearInterval(lagSampler);
      await failedEvents;
      await usageMeter;
      await realtime.done;
      await loader;
      // The lake writer cuts and uploads its open files before it returns.
      await lakeWriter;
      // Running tasks are stopped and handed back to the queue.
      await pipelines?.done;
      await pipelineStore?.close();
      await blob?.close();
      await warehouse?.close();
      await eventsLog.close();
      await failedLog.close();
      await state.close();
    },
  });
  process.send?.({ type: 'weir:ready' });
}

export interface SinksOptions {
  /** The consumers to run (`weir worker --roles`); default all. */
  roles?: ReadonlySet<WorkerRole>;
  /** `weir worker`: serve /healthz, /readyz and /metrics on server.port (in `weir up` the collectors do). */
  http?: boolean;
}

/** The HTTP face of `weir worker`: probes and metrics only. */
async function serveWorkerHttp(
  config: WeirConfig,
  logger: Logger,
  metrics: Metrics,
  status: () => Promise<SinkStatus>,
  roles: WorkerRole[],
): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const warehouse = await status();
    reply.code(warehouse.ok ? 200 : 503);
    return { status: warehouse.ok ? 'ready' : 'not ready', checks: { roles, warehouse } };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await app.listen({ host: config.server.host, port: config.server.port });
  return app;
}

/**
 * Records of the log past each group's committed offsets (a partition it never committed counts
 * from the log's first record, unless `committedOnly` leaves out groups with no commit at all).
 *
 * @example
 * ```ts
 * const lags = await groupLags(eventsLog, ['warehouse']); // Map { 'warehouse' => 120 }
 * ```
 */
export async function groupLags(log: Pick<EventLog, 'groups' | 'stats'>, groups: readonly string[], options: { committedOnly?: boolean } = {}): Promise<Map<string, number>> {
  const committed = await log.groups();
  const stats = await log.stats();
  const lags = new Map<string, number>();
  for (const group of groups) {
    const offsets = committed.get(group);
    if (!offsets && options.committedOnly) continue;
    let lag = 0;
    for (const st of stats) lag += st.nextOffset - (offsets?.get(st.partition) ?? st.firstOffset);
    lags.set(group, lag);
  }
  return lags;
}
