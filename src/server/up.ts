import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import type { WeirConfig } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { runFailedEventsConsumer } from '../consumers/failed-events-consumer.js';
import { openLog, openState, openWarehouse } from './backends.js';
import { runWarehouseLoader } from '../warehouse/loader.js';
import { SourceSchemas } from '../warehouse/source-schemas.js';
import { runQuery, type QueryRequest } from '../warehouse/run-query.js';
import { ensureCliToken } from './cli-token.js';
import { serveWorkerRequests } from './ipc.js';
import { EXIT_LOG_FAILED } from './collector-worker.js';
import { WeirError } from '../errors/catalogue.js';

export interface UpOptions {
  /** Where the start-up banner goes (stdout by default). */
  out?: (line: string) => void;
}

/**
 * `weir up`: the all-in-one server. The supervisor forks one collector worker per core (each the
 * writer of its own log partition), restarts any that die, runs the log consumers, merges the
 * workers' metrics, and on SIGTERM/SIGINT drains the workers and exits 0.
 *
 * @example
 * ```ts
 * await runUp(loadConfig()); // returns once every worker listens
 * ```
 */
export async function runUp(config: WeirConfig, options: UpOptions = {}): Promise<void> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = createLogger(config.logging.level, { role: 'supervisor' });
  const metrics = createMetrics();
  const aggregator = new AggregatorRegistry();

  const state = await openState(config);
  const boot = await state.bootstrap();
  const failedLog = await openLog(config, { logger, stream: 'failed' });
  const eventsLog = await openLog(config, { logger });
  const warehouse = await openWarehouse(config);
  const schemas = new SourceSchemas(state);
  await ensureCliToken(config, state);

  const workerCount = config.server.workers || availableParallelism();
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), silent: false });
  serveWorkerRequests({
    'weir:metrics': async () => {
      const workers = await aggregator.clusterMetrics();
      return `${workers}\n${await metrics.registry.metrics()}`;
    },
    'weir:query': (payload) => runQuery({ warehouse, schemas, state, config }, payload as QueryRequest),
  });

  let stopping = false;
  const byPartition = new Map<number, Worker>();
  const fork = (partition: number): Worker => {
    const worker = cluster.fork({
      WEIR_WORKER_CONFIG: JSON.stringify(config),
      WEIR_WORKER_PARTITION: String(partition),
    });
    byPartition.set(partition, worker);
    worker.on('exit', (code, signal) => {
      if (byPartition.get(partition) === worker) byPartition.delete(partition);
      if (stopping) return;
      const level = code === EXIT_LOG_FAILED ? 'warn' : 'error';
      logger[level]({ partition, code, signal }, 'collector worker exited; restarting');
      setTimeout(() => !stopping && fork(partition), 500).unref();
    });
    return worker;
  };

  const listening = Array.from({ length: workerCount }, (_, p) => {
    const worker = fork(p);
    return new Promise<number>((resolve, reject) => {
      worker.on('message', (m: { type?: string; port?: number }) => m?.type === 'weir:listening' && resolve(m.port ?? 0));
      worker.once('exit', (code) => reject(new Error(`collector worker ${p} exited with code ${code} during start`)));
    });
  });

  const consumers = new AbortController();
  const failedEvents = runFailedEventsConsumer({
    log: failedLog,
    state,
    logger,
    signal: consumers.signal,
    onLag: (n) => metrics.consumerLag.set({ group: 'failed-events' }, n),
  }).catch((err) => {
    logger.error({ err }, 'failed-events consumer stopped');
  });
  const loader = warehouse
    ? runWarehouseLoader({
        log: eventsLog,
        warehouse,
        schemaOf: (sourceId) => schemas.schemaOf(sourceId),
        logger,
        signal: consumers.signal,
        maxRecords: config.warehouse.batchMaxRecords,
        maxWaitMs: config.warehouse.batchMaxWaitMs,
        onBatch: (s) => {
          metrics.consumerLag.set({ group: 'warehouse' }, s.lag);
          metrics.warehouseRows.inc(s.rows);
          metrics.warehouseDiscards.inc(s.discards);
          metrics.warehouseBatch.observe(s.ms / 1000);
        },
        onError: (err) => metrics.warehouseErrors.inc({ code: err instanceof WeirError ? err.code : 'unexpected' }),
      }).catch((err) => logger.error({ err }, 'warehouse loader stopped'))
    : Promise.resolve();

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const exits = [...byPartition.values()].map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
    );
    for (const w of byPartition.values()) if (w.isConnected()) w.send({ type: 'weir:drain' });
    const timer = setTimeout(() => {
      logger.error('workers did not drain in time; killing them');
      for (const w of byPartition.values()) w.process.kill('SIGKILL');
    }, config.server.drainTimeoutMs + 1000);
    await Promise.all(exits);
    clearTimeout(timer);
    consumers.abort();
    await failedEvents;
    await loader;
    await warehouse?.close();
    await failedLog.close();
    await eventsLog.close();
    await state.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let port: number;
  try {
    port = (await Promise.all(listening))[0] ?? config.server.port;
  } catch (err) {
    // A worker that cannot start (port taken, log locked) would fail again on every restart.
    stopping = true;
    for (const w of byPartition.values()) w.process.kill('SIGKILL');
    consumers.abort();
    await failedEvents;
    await loader;
    await warehouse?.close();
    await failedLog.close();
    await eventsLog.close();
    await state.close();
    throw err;
  }
  const host = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
  out(`Weir is running on http://${host}:${port} (${workerCount} collector workers, data in ${config.dataDir})`);
  if (boot.created) {
    out(`First start: created workspace "${boot.workspace.name}" and source "${boot.source.name}".`);
    out(`  write key:   ${boot.source.writeKey}`);
    if (boot.adminToken) out(`  admin token: ${boot.adminToken}   (shown once; it guards /api)`);
    out(`Try: curl -u ${boot.source.writeKey}: -H 'content-type: application/json' \\`);
    out(`       -d '{"event":"Hello","userId":"me"}' http://${host}:${port}/v1/track`);
  } else {
    out('`weir sources list` shows the write keys.');
  }
}
