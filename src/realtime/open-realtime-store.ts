import type { WeirConfig } from '../config/schema.js';
import { createMemoryRealtimeStore } from './memory/index.js';
import type { RealtimeStore, RealtimeWindows } from './realtime-store.js';
import { openRedisRealtimeStore } from './redis/index.js';

export interface OpenRealtimeStoreOptions {
  /** Windows the configuration does not set (`topPages`, `minutes`), or overrides for tests. */
  windows?: Partial<RealtimeWindows>;
  /** Redis: how long the first connection may take. Default 3,000 ms. */
  connectTimeoutMs?: number;
}

/**
 * Opens the RealtimeStore the `realtime` section names: `memory` (embedded) or `redis`. An
 * unreachable Redis fails within the connect timeout with the retriable
 * `WEIR_LIVE_STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const store = await openRealtimeStore(config.realtime);
 * await store.record(hits);
 * await store.close();
 * ```
 */
export async function openRealtimeStore(config: WeirConfig['realtime'], options: OpenRealtimeStoreOptions = {}): Promise<RealtimeStore> {
  const { visitorWindowMs, engagedWindowMs, maxVisitors, tailSize } = config;
  const windows = { visitorWindowMs, engagedWindowMs, maxVisitors, tailSize, ...options.windows };
  if (config.store === 'redis') {
    return openRedisRealtimeStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, windows, connectTimeoutMs: options.connectTimeoutMs });
  }
  return createMemoryRealtimeStore(windows);
}
