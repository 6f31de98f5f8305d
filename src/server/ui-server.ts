import type { WeirConfig } from '../config/schema.js';
import { WeirError } from '../errors/catalogue.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { currentEnricher, replayFailedEvents } from '../collector/replay-failed.js';
import { openSourceEnrichers } from '../collector/source-enrichers.js';
import { openLake } from '../lake/open-lake.js';
import { runQuery } from '../warehouse/run-query.js';
import { SourceSchemas } from '../warehouse/source-schemas.js';
import { buildApp } from './app.js';
import { openLog, openPipelineStore, openState, openWarehouse } from './backends.js';
import { claimPartition } from './claim-partition.js';
import { drainOnce } from './drain-signals.js';
import { liveApi, sharedStoreFeed } from '../realtime/start-realtime.js';

/**
 * `weir ui`: the web UI and its API in a process of their own, over the shared engines: metadata
 * in Postgres, console queries on the warehouse server (ClickHouse or Postgres), live numbers from
 * the shared real-time store. It ingests nothing; replaying failed events claims a free log
 * partition for the length of the replay. Any number of them can run behind a load balancer.
 *
 * @example
 * ```ts
 * await runUiServer(loadConfig()); // serves until SIGTERM
 * ```
 */
export async function runUiServer(config: WeirConfig, options: { out?: (line: string) => void } = {}): Promise<void> {
  if (config.warehouse.engine === 'duckdb') {
    // DuckDB allows one process per file, and `weir worker` (the loader) holds it.
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'weir ui needs a warehouse server (warehouse.engine postgres or clickhouse); with duckdb, run weir up' });
  }
  const logger = createLogger(config.logging.level, { role: 'ui' });
  const metrics = createMetrics();
  const state = await openState(config);
  const pipelines = await openPipelineStore(config);
  const warehouse = await openWarehouse(config);
  const schemas = new SourceSchemas(state);
  const lake = config.lake.enabled ? await openLake(config) : undefined;
  const enrichers = await openSourceEnrichers(config);
  // Live numbers come from the store every UI node shares; an in-memory store lives in the
  // worker that fills it, out of this process's reach.
  const liveFeed = config.realtime.enabled && config.realtime.store === 'redis' ? sharedStoreFeed(config) : undefined;
  const live = liveFeed ? liveApi(config, liveFeed, metrics) : undefined;
  if (!live) logger.warn('live data needs realtime.store redis with weir ui: /api/live is not served');
  const notHere = {
    append: async (): Promise<never> => {
      throw new WeirError('WEIR_ROLE_ELSEWHERE', { what: 'ingest', role: 'ui', detail: 'send events to a weir collector' });
    },
  };

  const app = await buildApp({
    surface: 'ui',
    live,
    config,
    state,
    metrics,
    logger,
    writer: notHere,
    failedWriter: notHere,
    keys: { resolve: () => undefined },
    pipelines,
    lake,
    query: (req) => runQuery({ warehouse, schemas, state, config }, req),
    replayFailed: async (replay) => {
      const log = await openLog(config, { logger });
      try {
        const { writers } = await claimPartition([log], config.log.maxPartitions, logger);
        const writer = writers[0]!;
        try {
          return await replayFailedEvents({ state, limits: config.limits, append: (records) => writer.append(records), enricher: currentEnricher(state, enrichers) }, replay);
        } finally {
          await writer.close();
        }
      } finally {
        await log.close();
      }
    },
    readiness: async () => {
      try {
        await state.getSource('readiness-probe');
        return { ready: true, checks: { metadata: 'ok' } };
      } catch (err) {
        return { ready: false, checks: { metadata: err instanceof Error ? err.message : String(err) } };
      }
    },
  });

  drainOnce({
    logger,
    timeoutMs: config.server.drainTimeoutMs,
    async close() {
      await app.close();
      live?.hub.close();
      await liveFeed?.close();
      await lake?.close();
      await warehouse?.close();
      await pipelines.close();
      await state.close();
    },
  });
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  (options.out ?? ((line: string) => process.stdout.write(`${line}\n`)))(`Weir UI is running on http://localhost:${port}/ui/ (warehouse ${config.warehouse.engine}, metadata ${config.state.backend})`);
}
