import type { WeirConfig } from '../config/schema.js';
import { isRetriable, WeirError } from '../errors/catalogue.js';
import type { EventLog } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { LiveDeps } from '../api/live-routes.js';
import { runRealtimeAggregator } from './aggregator.js';
import { backoff } from '../consumers/retry.js';
import { ipcFeed, liveHandlers, LIVE_TOPICS, storeFeed, type LiveFeed } from './live-feed.js';
import { LiveHub } from './live-hub.js';
import { openRealtimeStore } from './open-realtime-store.js';
import type { RealtimeStore } from './realtime-store.js';

/**
 * The real-time part of `weir up`'s sinks process: the configured store, the aggregator filling
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
  let feed: LiveFeed | undefined;
  // Until the store opens, the live API answers with why it has not.
  let notYet: unknown = new WeirError('WEIR_LIVE_UNAVAILABLE', { detail: 'the real-time store is not open yet' });
  const done = openStore(config, opts, (err) => (notYet = err))
    .then(async (store) => {
      if (store === undefined) return;
      feed = storeFeed(store);
      try {
        await runRealtimeAggregator({
          log: opts.log,
          store,
          logger: opts.logger,
          signal: opts.signal,
          onBatch: (b) => {
            metrics.realtimeEvents.inc(b.hits);
            if (b.skipped > 0) metrics.realtimeSkipped.inc(b.skipped);
            if (b.delayMs !== undefined) metrics.realtimeDelay.set(b.delayMs / 1000);
          },
        });
      } finally {
        await store.close();
      }
    })
    .catch((err) => opts.logger.error({ err }, 'realtime aggregator stopped'));
  const pending: LiveFeed = { snapshot: () => Promise.reject(notYet), tail: () => Promise.reject(notYet) };
  return { handlers: liveHandlers(() => feed ?? pending), done };
}

/**
 * Opens the configured store, retrying while it is unreachable (Redis starting after Weir):
 * undefined when stopped first.
 */
async function openStore(config: WeirConfig, opts: { logger: Logger; signal: AbortSignal }, onError: (err: unknown) => void): Promise<RealtimeStore | undefined> {
  for (let attempt = 1; !opts.signal.aborted; attempt++) {
    try {
      return await openRealtimeStore(config.realtime);
    } catch (err) {
      if (!isRetriable(err)) throw err;
      onError(err);
      opts.logger.warn({ err, attempt }, 'real-time store unreachable; retrying');
      await backoff(attempt, opts.signal);
    }
  }
  return undefined;
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
  return liveApi(config, ipcFeed(request), metrics);
}

/**
 * The live API over any feed: `weir up`'s collectors read the sinks process over IPC
 * ({@link collectorLive}); `weir ui` reads the shared Redis store directly ({@link sharedStoreFeed}).
 *
 * @example
 * ```ts
 * await buildApp({ ...deps, live: liveApi(config, sharedStoreFeed(config), metrics) });
 * ```
 */
export function liveApi(config: WeirConfig, feed: LiveFeed, metrics: Metrics): Omit<LiveDeps, 'state'> {
  const hub = new LiveHub(feed, {
    pollMs: config.realtime.pollMs,
    onSnapshotLatency: (s) => metrics.liveSnapshotLatency.observe(s),
  });
  return { hub, onClients: (stream, delta) => metrics.liveClients.inc({ stream }, delta) };
}

/**
 * A feed from the store the configuration names, opened on first use and again after a failed
 * open, so a process whose Redis is down at start serves live data once it is back (until then
 * each request gets the retriable `WEIR_LIVE_STORE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const feed = sharedStoreFeed(config);
 * await feed.snapshot('src_1');
 * ```
 */
export function sharedStoreFeed(config: WeirConfig): LiveFeed & { close(): Promise<void> } {
  let opening: Promise<LiveFeed & { store: RealtimeStore }> | undefined;
  const feed = () =>
    (opening ??= openRealtimeStore(config.realtime).then(
      (store) => Object.assign(storeFeed(store), { store }),
      (err: unknown) => {
        opening = undefined;
        throw err;
      },
    ));
  return {
    snapshot: async (sourceId, unlessVersion) => (await feed()).snapshot(sourceId, unlessVersion),
    tail: async (sourceId, after) => (await feed()).tail(sourceId, after),
    async close() {
      const open = await opening?.catch(() => undefined);
      await open?.store.close();
    },
  };
}
