import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { WeirConfig } from '../config/schema.js';
import { nodeFileLayer } from '../log/file-layer.js';
import { timedFileLayer } from '../log/timed-file-layer.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { WriteKeyCache } from '../collector/write-keys.js';
import { MonthlyQuota } from '../collector/quota.js';
import { BacklogGate } from '../collector/backlog-gate.js';
import { SourceRateLimits } from '../collector/rate-limit.js';
import { RecoveringWriter } from '../log/recovering-writer.js';
import { availableParallelism } from 'node:os';
import { buildApp } from './app.js';
import { openLog, openPipelineStore, openState } from './backends.js';
import { IpcChannel } from './ipc.js';
import { drainOnce } from './drain-signals.js';
import type { QueryResponse } from '../warehouse/run-query.js';
import type { TaskStatus } from './task-board.js';
import { openLake } from '../lake/open-lake.js';
import { openSourceEnrichers } from '../collector/source-enrichers.js';
import { DailySalts } from '../enrich/privacy/secrets.js';
import type { SinkStatus } from './sinks-worker.js';
import { collectorLive } from '../realtime/start-realtime.js';
import type { Surface } from './roles.js';
import { claimPartition } from './claim-partition.js';

/** Exit code of a worker that stopped because its log could not sync; the supervisor restarts it. */
export const EXIT_LOG_FAILED = 3;

/** How long a failed partition may stay unreopened before the worker restarts. */
const REOPEN_GIVE_UP_MS = 60_000;

/**
 * One collector worker: the HTTP server (port shared with its siblings through node:cluster) and
 * the single writer of its own log partition, so every core ingests without sharing a lock.
 *
 * It drains on SIGTERM/SIGINT, on the supervisor's `weir:drain` message and when the supervisor
 * goes away: stop accepting, finish in-flight requests (their appends are fsync'd before they
 * are answered), close the log, exit 0.
 *
 * @example
 * ```ts
 * await runCollectorWorker(config, 0); // serves until drained
 * ```
 */
export async function runCollectorWorker(config: WeirConfig, assigned: number | 'claim', options: { surface?: Surface } = {}): Promise<void> {
  // `weir up` gives each worker its partition; the workers of `weir collector` processes on
  // several hosts claim free ones (see claimPartition).
  const surface = options.surface ?? 'all';
  const startLogger = createLogger(config.logging.level, { role: 'collector' });
  const metrics = createMetrics();
  if (cluster.isWorker) {
    // Answers the supervisor's requests for this worker's metrics (prom-client cluster protocol).
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
  }
  const supervisor = cluster.isWorker ? new IpcChannel(process) : undefined;
  // The sinks process that answers queries, tasks and live data over IPC exists in `weir up` only.
  const sinks = surface === 'all' ? supervisor : undefined;
  const state = await openState(config);
  // Read directly by the pipelines API: the store is what pipeline workers share anyway.
  const pipelines = await openPipelineStore(config);
  // Known once a partition is claimed; a corrupt record found before that is counted as 'unclaimed'.
  let partitionLabel = assigned === 'claim' ? 'unclaimed' : String(assigned);
  const logOptions = {
    logger: startLogger,
    fileLayer: timedFileLayer(
      nodeFileLayer,
      (s) => metrics.fsyncLatency.observe(s),
      (s) => metrics.writeLatency.observe(s),
    ),
    onCorrupt: () => metrics.logCorrupt.inc({ partition: partitionLabel }),
  };
  const log = await openLog(config, logOptions);
  const failedLog = await openLog(config, { ...logOptions, stream: 'failed' });
  // After a failed sync the writers reopen in this process (recovery drops the untrusted tail)
  // while requests get 503; the process keeps its connections.
  const { partition, writer, failedWriter } =
    assigned === 'claim'
      ? await claimPartition([log, failedLog], config.log.maxPartitions, startLogger).then(({ partition, writers: [writer, failedWriter] }) => ({
          partition,
          writer: writer!,
          failedWriter: failedWriter!,
        }))
      : {
          partition: assigned,
          writer: await RecoveringWriter.open(log, assigned, { logger: startLogger }),
          failedWriter: await RecoveringWriter.open(failedLog, assigned, { logger: startLogger }),
        };
  const logger = startLogger.child({ partition });
  partitionLabel = String(partition);
  const backlog = new BacklogGate([log, failedLog], config.log.backlogBudgetBytes);
  await backlog.refresh();
  const rateLimits = new SourceRateLimits({
    eventsPerSecond: config.limits.rateLimitEventsPerSecond,
    burst: config.limits.rateLimitBurst,
    // Every collector of `weir up` shares the port; each enforces its part of the server's limit.
    share: cluster.isWorker ? 1 / (config.server.workers || availableParallelism()) : 1,
  });
  let draining = false;
  const quota = new MonthlyQuota(state, { refreshMs: config.limits.quotaRefreshMs, logger });
  await quota.start();

  // Live data is held by the sinks process; the supervisor relays.
  const live = sinks ? collectorLive(config, (topic, payload) => sinks.request(topic, payload, 3000), metrics) : undefined;
  const app = await buildApp({
    surface,
    live,
    config,
    writer,
    failedWriter,
    keys: new WriteKeyCache(state),
    quota,
    backlog,
    rateLimits,
    enrichers: await openSourceEnrichers(config),
    salts: new DailySalts(config.dataDir),
    state,
    metrics,
    logger,
    metricsText: supervisor ? () => supervisor.request<string>('weir:metrics') : undefined,
    // The sinks process holds the warehouse (DuckDB allows one process per file); the supervisor relays.
    query: sinks ? (req) => sinks.request<QueryResponse>('weir:query', req, config.warehouse.queryTimeoutMs + 5000) : undefined,
    tasks: sinks
      ? {
          start: (task) => sinks.request<string>('weir:task-start', task, 15_000),
          get: (id) => sinks.request<TaskStatus>('weir:task-get', id, 6000),
        }
      : undefined,
    lake: config.lake.enabled ? await openLake(config) : undefined,
    pipelines,
    // Ready: this process's log partitions take writes and, in `weir up`, the warehouse is
    // reachable. Ingest goes on either way (the log holds the backlog); the checks say which
    // part is down and how far the warehouse is behind.
    readiness: async () => {
      const backlogStatus = backlog.status();
      const logOk = writer.state === 'open' && failedWriter.state === 'open' && !draining && !backlogStatus.full;
      const checks: Record<string, unknown> = { log: writer.state, failedLog: failedWriter.state, draining, backlog: backlogStatus };
      let sinksOk = true;
      if (sinks && config.warehouse.engine !== 'none') {
        try {
          const warehouse = await sinks.request<SinkStatus>('weir:status', undefined, 2500);
          checks.warehouse = warehouse;
          sinksOk = warehouse.ok;
        } catch (err) {
          checks.warehouse = { ok: false, error: err instanceof Error ? err.message : String(err) };
          sinksOk = false;
        }
      }
      return { ready: logOk && sinksOk, checks };
    },
  });

  const refreshGauges = async () => {
    for (const s of await log.stats()) {
      if (s.partition !== partition) continue;
      metrics.logBytes.set({ partition: partitionLabel }, s.bytes);
      metrics.logSegments.set({ partition: partitionLabel }, s.segments);
    }
  };
  const timers = [
    setInterval(() => {
      refreshGauges().catch((err) => logger.warn({ err }, 'log stats failed'));
      backlog
        .refresh()
        .then((b) => {
          metrics.backlogBytes.set(b.bytes);
          metrics.backlogBudgetBytes.set(b.budgetBytes);
        })
        .catch((err) => logger.warn({ err }, 'cannot measure the log backlog; keeping the last measurement'));
      // Last resort: a fresh process (new file descriptors, a new lock) when reopening in this
      // one has not worked for a long time.
      if (Math.max(writer.failingForMs(), failedWriter.failingForMs()) > REOPEN_GIVE_UP_MS) {
        logger.fatal('event log partition could not be reopened; restarting the worker');
        void drain(EXIT_LOG_FAILED);
      }
    }, 1000),
    setInterval(() => {
      for (const w of [writer, failedWriter]) {
        w.enforceRetention(config.log.retentionHours * 3_600_000)
          .then((n) => n > 0 && logger.info({ deleted: n, partition }, 'retention deleted segments'))
          .catch((err) => logger.warn({ err }, 'retention failed'));
      }
    }, config.log.retentionCheckMs),
  ];
  for (const t of timers) t.unref();

  const drain = drainOnce({
    logger,
    timeoutMs: config.server.drainTimeoutMs,
    async close() {
      draining = true;
      for (const t of timers) clearInterval(t);
      quota.stop();
      await app.close();
      live?.hub.close();
      await writer.close();
      await failedWriter.close();
      await log.close();
      await failedLog.close();
      await pipelines.close();
      await state.close();
    },
  });

  await app.listen({ host: config.server.host, port: config.server.port });
  logger.info({ host: config.server.host, port: config.server.port }, 'collector listening');
  const address = app.server.address();
  process.send?.({ type: 'weir:listening', partition, port: typeof address === 'object' && address ? address.port : config.server.port });
}
