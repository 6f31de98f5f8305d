import type { LiveSnapshot, RealtimeStore, TailPage } from './realtime-store.js';

/** A snapshot request whose source has not changed: only its version. */
export interface Unchanged {
  unchanged: true;
  version: number;
}

/**
 * What a process serving the live API reads: snapshots (skipped cheaply while unchanged) and
 * the tail. In `weir up` the store lives in the sinks process and collectors read it over IPC
 * ({@link ipcFeed}); a store every process can reach (Redis) is read directly ({@link storeFeed}).
 *
 * @example
 * ```ts
 * const feed = storeFeed(store);
 * const first = await feed.snapshot('src_1');                  // a LiveSnapshot
 * const next = await feed.snapshot('src_1', first.version);     // { unchanged: true, ... } until hits arrive
 * ```
 */
export interface LiveFeed {
  /** The snapshot of a source, or {@link Unchanged} when its version is still `unlessVersion`. */
  snapshot(sourceId: string, unlessVersion?: number): Promise<LiveSnapshot | Unchanged>;
  tail(sourceId: string, after?: number): Promise<TailPage>;
}

/** The IPC topics of {@link ipcFeed}, answered by the sinks process and relayed by the supervisor. */
export const LIVE_TOPICS = { snapshot: 'weir:live-snapshot', tail: 'weir:live-tail' } as const;

export interface SnapshotRequest {
  sourceId: string;
  unlessVersion?: number;
}

export interface TailRequest {
  sourceId: string;
  after?: number;
}

/**
 * A feed straight from a store, with the store's clock passed in (`now`). A snapshot is reused
 * for `reuseMs` by requests that find the source unchanged.
 *
 * @example
 * ```ts
 * supervisor.serve({ [LIVE_TOPICS.snapshot]: (p) => storeFeed(store).snapshot((p as SnapshotRequest).sourceId) });
 * ```
 */
export function storeFeed(store: RealtimeStore, now: () => number = Date.now, reuseMs = 50): LiveFeed {
  // Every collector worker polls the same sources: one snapshot serves them all for reuseMs
  // while the source has not changed (a snapshot walks every current visitor).
  const recent = new Map<string, { snapshot: LiveSnapshot; at: number }>();
  return {
    async snapshot(sourceId, unlessVersion) {
      const version = await store.version(sourceId);
      if (version === unlessVersion) return { unchanged: true, version };
      const t = now();
      const cached = recent.get(sourceId);
      if (cached && cached.snapshot.version === version && t - cached.at < reuseMs) return cached.snapshot;
      const snapshot = await store.snapshot(sourceId, t);
      recent.set(sourceId, { snapshot, at: t });
      return snapshot;
    },
    tail: (sourceId, after) => store.tail(sourceId, after),
  };
}

/** The IPC handlers that answer {@link ipcFeed} from a feed (in the sinks process). */
export function liveHandlers(feed: () => LiveFeed): Record<string, (payload: unknown) => Promise<unknown>> {
  return {
    [LIVE_TOPICS.snapshot]: async (p) => feed().snapshot((p as SnapshotRequest).sourceId, (p as SnapshotRequest).unlessVersion),
    [LIVE_TOPICS.tail]: async (p) => feed().tail((p as TailRequest).sourceId, (p as TailRequest).after),
  };
}

/**
 * A feed over a request/response channel (a collector worker asking the supervisor, which
 * relays to the sinks process).
 *
 * @example
 * ```ts
 * const feed = ipcFeed((topic, payload) => supervisor.request(topic, payload, 2000));
 * ```
 */
export function ipcFeed(request: <T>(topic: string, payload: unknown) => Promise<T>): LiveFeed {
  return {
    snapshot: (sourceId, unlessVersion) => request(LIVE_TOPICS.snapshot, { sourceId, unlessVersion } satisfies SnapshotRequest),
    tail: (sourceId, after) => request(LIVE_TOPICS.tail, { sourceId, after } satisfies TailRequest),
  };
}
