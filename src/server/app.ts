import { trackerRoute } from '../tracker/serve.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { WeirConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StateStore } from '../state/state-store.js';
import { ingestRoutes, type IngestDeps } from '../collector/ingest-routes.js';
import { adminRoutes, type AdminDeps } from '../api/admin-routes.js';
import { currentEnricher, replayFailedEvents } from '../collector/replay-failed.js';
import { installErrorHandlers } from './http-errors.js';
import { uiRoutes } from './ui-routes.js';
import { apiAuth } from '../api/auth.js';
import { authRoutes } from '../api/auth-routes.js';
import { liveRoutes, type LiveDeps } from '../api/live-routes.js';

import { pipelineRoutes } from '../api/pipeline-routes.js';
import type { PipelineStore } from '../pipelines/store/pipeline-store.js';
import type { Surface } from './roles.js';

export interface Readiness {
  ready: boolean;
  checks: Record<string, unknown>;
}

export interface AppDeps extends IngestDeps {
  config: WeirConfig;
  state: StateStore;
  metrics: Metrics;
  logger: Logger;
  /** Prometheus text for `/metrics`; in a cluster, the merged metrics of every process. */
  metricsText?: () => Promise<string>;
  readiness?: () => Readiness | Promise<Readiness>;
  /** Console queries; absent where no warehouse is reachable from this process. */
  query?: AdminDeps['query'];
  /** Long operations run by the sinks process. */
  tasks?: AdminDeps['tasks'];
  /** Failed-event replay; default: through this process's own writer. */
  replayFailed?: AdminDeps['replayFailed'];
  /** The lake, for listing and downloading objects. */
  lake?: AdminDeps['lake'];
  /** The live API (`/api/live`, `/api/events/tail`); absent where no real-time store is reachable. */
  live?: Omit<LiveDeps, 'state'>;

  /** Pipeline runs, for `/api/pipelines`. */
  pipelines?: PipelineStore;
  /**
   * What this process serves besides `/healthz`, `/readyz` and `/metrics`: everything (default,
   * `weir up`), the ingest endpoints and the tracker (`weir collector`), or the web UI and its
   * API (`weir ui`).
   */
  surface?: Surface;
}

function trustProxy(setting: string): boolean | string {
  if (setting === '' || setting === 'false') return false;
  if (setting === 'true') return true;
  return setting;
}

/**
 * Builds the HTTP app of a collector process: Segment ingest endpoints, `/healthz`, `/readyz`,
 * `/metrics` and the management API.
 *
 * @example
 * ```ts
 * const app = await buildApp(deps);
 * const res = await app.inject({ method: 'GET', url: '/healthz' }); // 200
 * ```
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One log line per ingest request would cost more than the request; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxy(config.server.trustProxy),
    bodyLimit: config.limits.maxBatchBytes,
    // Slow or stalled bodies must not hold a connection forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  // Bodies are read raw and decoded by the routes, which own the media-type, gzip and UTF-8 rules
  // and answer with catalogue codes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  installErrorHandlers(app);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = (await deps.readiness?.()) ?? { ready: true, checks: {} };
    reply.code(r.ready ? 200 : 503);
    return { status: r.ready ? 'ready' : 'not ready', checks: r.checks };
  });
  app.get('/metrics', async (_req, reply) => {
    const text = deps.metricsText ? await deps.metricsText() : await deps.metrics.registry.metrics();
    reply.header('content-type', deps.metrics.registry.contentType);
    return text;
  });

  const surface = deps.surface ?? 'all';
  if (surface !== 'ui') {
    trackerRoute(app);
    await app.register(ingestRoutes, deps);
  }
  if (surface === 'ingest') return app;
  apiAuth(app, { state: deps.state, sessionTtlMs: config.ui.sessionTtlMs });
  await app.register(uiRoutes);
  await app.register(authRoutes, { state: deps.state, sessionTtlMs: config.ui.sessionTtlMs });
  if (deps.live) await app.register(liveRoutes, { state: deps.state, ...deps.live });
  await app.register(adminRoutes, {
    state: deps.state,
    query: deps.query,
    tasks: deps.tasks,
    lake: deps.lake,
    // This process's own writer: the log's partitions each have one writer, held by a collector.
    replayFailed:
      deps.replayFailed ??
      ((options) =>
      replayFailedEvents(
        {
          state: deps.state,
          limits: config.limits,
          append: (records) => deps.writer.append(records),
          enricher: currentEnricher(deps.state, deps.enrichers),
        },
        options,
      )),
  });
  await app.register(pipelineRoutes, { state: deps.state, store: deps.pipelines, dir: config.pipelines.dir, schema: config.pipelines.schema });
  return app;
}
