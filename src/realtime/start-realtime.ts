import type { WeirConfig } from '../config/schema.js';
import { WeirError } from '../errors/catalogue.js';
import type { EventLog } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { LiveDeps } from '../api/live-routes.js';
import { runRealtimeAggregator } from './aggregator.js';
import { ipcFeed, liveHandlers, LIVE_TOPICS, storeFeed } from './live-feed.js';
import { LiveHub } from './live-hub.js';
import { createMemoryRealtimeStore } from './memory/index.js';

/**
 * The real-time part of `weir up`'s sinks process: the in-memory store, the aggregator filling
 * it from the events log, and the IPC handlers through which collector workers read it. With
 * `realtime.enabled` false the handlers answer `WEIR_LIVE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const realtime = startRealtime({ config, log: eventsLog, logger, metrics, signal: stop.signal });
 * new IpcChannel(process).serve({ ...realtime.handlers });
 * stop.abort(); await realtime.done;
 * ```
 */
export function startRealtime(opts: { config: WeirConfig; log: EventLog; logger: Logger; metrics: Metrics; signal: AbortSignal }): {
  handlers: Record<string, (payload: unknown) => Promise<unknown>>;
  done: Promise<void>;
} {
  const { config, metrics } = opts;
  if (!config.realtime.enabled) {
    const off = async () => {
      throw new WeirError('WEIR_LIVE_UNAVAILABLE', { detail: 'real-time is turned off (realtime.enabled)' });
    };
    return { handlers: { [LIVE_TOPICS.snapshot]: off, [LIVE_TOPICS.tail]: off }, done: Promise.resolve() };
  }
  const { visitorWindowMs, engagedWindowMs, maxVisitors, tailSize } = config.realtime;
  const store = createMemoryRealtimeStore({ visitorWindowMs, engagedWindowMs, maxVisitors, tailSize });
  const done = runRealtimeAggregator({
    log: opts.log,
    store,
    logger: opts.logger,
    signal: opts.signal,
    onBatch: (b) => {
      metrics.realtimeEvents.inc(b.hits);
      if (b.skipped > 0) metrics.realtimeSkipped.inc(b.skipped);
      if (b.delayMs !== undefined) metrics.realtimeDelay.set(b.delayMs / 1000);
    },
  })
    .catch((err) => opts.logger.error({ err }, 'realtime aggregator stopped'))
    .finally(() => store.close());
  const feed = storeFeed(store);
  return { handlers: liveHandlers(() => feed), done };
}

/**
 * The supervisor's relay of the live topics from collector workers to the sinks process.
 *
 * @example
 * ```ts
 * new IpcChannel(worker).serve({ ...relayLive((topic, payload) => sinks.request(topic, payload, 2000)) });
 * ```
 */
export function relayLive(forward: (topic: string, payload: unknown) => Promise<unknown>): Record<string, (payload: unknown) => Promise<unknown>> {
  return Object.fromEntries(Object.values(LIVE_TOPICS).map((topic) => [topic, (payload: unknown) => forward(topic, payload)]));
}

/**
 * The live API of a collector worker: one hub (one poller per source) over the supervisor's relay.
 *
 * @example
 * ```ts
 * const live = collectorLive(config, (topic, payload) => supervisor.request(topic, payload, 3000), metrics);
 * await buildApp({ ...deps, live });
 * ```
 */
export function collectorLive(config: WeirConfig, request: <T>(topic: string, payload: unknown) => Promise<T>, metrics: Metrics): Omit<LiveDeps, 'state'> {
  const hub = new LiveHub(ipcFeed(request), {
    pollMs: config.realtime.pollMs,
    onSnapshotLatency: (s) => metrics.liveSnapshotLatency.observe(s),
  });
  return { hub, onClients: (stream, delta) => metrics.liveClients.inc({ stream }, delta) };
}
