import { Redis } from 'ioredis';
import { WeirError } from '../../errors/catalogue.js';
import type { DashboardReferrerClass } from '../../enrich/referrer.js';
import {
  DEFAULT_WINDOWS,
  SCROLL_BUCKETS,
  type LiveHit,
  type LiveSnapshot,
  type RealtimeStore,
  type RealtimeWindows,
  type TailEvent,
} from '../realtime-store.js';
import { averageSeconds, MINUTE_MS, minuteSeries, rankPages, zeroReferrers } from '../snapshot-parts.js';
import { RECORD_SCRIPT, SNAPSHOT_SCRIPT, TAIL_SCRIPT } from './scripts.js';

export interface RedisRealtimeStoreOptions {
  /** `redis://[:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** Put in front of every key, so installations and tests can share one Redis. Default `weir:rt:`. */
  keyPrefix?: string;
  windows?: Partial<RealtimeWindows>;
  /** How long the first connection may take before opening fails. Default 3,000 ms. */
  connectTimeoutMs?: number;
  /** Tail, sequence and version of a source expire after this long without hits. Default 24 h. */
  tailTtlMs?: number;
}

/** Hits per script call: one call holds Redis for its whole batch. */
const HITS_PER_CALL = 500;
/** Visitors last seen this long beyond the window of the newest hit are freed on write. */
const STALE_MS = 5 * MINUTE_MS;

/** The part of ioredis this adapter uses, with its scripts as commands. */
interface ScriptedRedis {
  rtRecord(...keysAndArgs: string[]): Promise<number>;
  rtSnapshot(...keysAndArgs: string[]): Promise<SnapshotReply>;
  rtTail(...keysAndArgs: string[]): Promise<[number, string[]]>;
  pipeline(): { rtRecord(...keysAndArgs: string[]): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
  get(key: string): Promise<string | null>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

type SnapshotReply = [string, number, number, string, Array<string | number>, number[], number[], Array<[string, string, string, number, number]>, string[]];

/**
 * Opens a RealtimeStore on Redis, shared by every process that reaches the same Redis: several
 * aggregators may write and several UI nodes read the same numbers. Writes and snapshots are one
 * Lua script each (atomic, one round trip); see `scripts.ts` for the keys. Every key of a source
 * expires after a silence. While Redis is down, calls fail at once with the retriable
 * `WEIR_LIVE_STORE_UNAVAILABLE` instead of queueing.
 *
 * @example
 * ```ts
 * const store = await openRedisRealtimeStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'weir:rt:' });
 * await store.record(hits);
 * const snap = await store.snapshot('src_1', Date.now());
 * await store.close();
 * ```
 */
export async function openRedisRealtimeStore(options: RedisRealtimeStoreOptions): Promise<RealtimeStore> {
  const w: RealtimeWindows = { ...DEFAULT_WINDOWS, ...options.windows };
  const prefix = options.keyPrefix ?? 'weir:rt:';
  const tailTtlMs = options.tailTtlMs ?? 24 * 3600_000;
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    // Fail commands at once while disconnected: the aggregator retries its batch later and the
    // live API answers "unavailable", rather than both hanging on a queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // ioredis reports every failed (re)connect as an 'error' event, and then fails calls with a
  // bare "Connection is closed": the event says why (ECONNREFUSED, ENOTFOUND, NOAUTH).
  let lastConnectError: Error | undefined;
  client.on('error', (err: Error) => (lastConnectError = err));
  const unavailable = (err: unknown) => {
    const detail = err instanceof Error ? err.message : String(err);
    const why = lastConnectError && lastConnectError.message !== detail ? ` (${lastConnectError.message})` : '';
    return new WeirError('WEIR_LIVE_STORE_UNAVAILABLE', { store: 'redis', url: redactUrl(options.url), detail: `${detail}${why}` });
  };
  client.on('ready', () => (lastConnectError = undefined));
  client.defineCommand('rtRecord', { lua: RECORD_SCRIPT, numberOfKeys: 6 });
  client.defineCommand('rtSnapshot', { lua: SNAPSHOT_SCRIPT, numberOfKeys: 4, readOnly: true });
  client.defineCommand('rtTail', { lua: TAIL_SCRIPT, numberOfKeys: 2, readOnly: true });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw unavailable(err);
  }
  const redis = client as unknown as ScriptedRedis;
  const key = (sourceId: string, part: string) => `${prefix}{${sourceId}}:${part}`;
  // A script error is a bug, not an outage; anything else (no connection, LOADING, OOM) may pass.
  const translate = (err: unknown) => (err instanceof Error && err.name === 'ReplyError' && /^ERR /.test(err.message) ? err : unavailable(err));
  const call = <T>(fn: () => Promise<T>): Promise<T> =>
    fn().catch((err: unknown) => {
      throw translate(err);
    });

  return {
    persistent: true,
    async record(hits) {
      if (hits.length === 0) return;
      const bySource = new Map<string, LiveHit[]>();
      for (const hit of hits) {
        let list = bySource.get(hit.sourceId);
        if (list === undefined) bySource.set(hit.sourceId, (list = []));
        list.push(hit);
      }
      const args = [
        String(w.maxVisitors),
        String(w.tailSize),
        String(w.minutes),
        String(w.visitorWindowMs),
        String(w.visitorWindowMs + STALE_MS),
        String(w.minutes * MINUTE_MS + STALE_MS),
        String(tailTtlMs),
        String(STALE_MS),
      ];
      const pipeline = redis.pipeline();
      for (const [sourceId, list] of bySource) {
        const keys = ['seen', 'vis', 'min', 'tail', 'seq', 'ver'].map((part) => key(sourceId, part));
        for (let i = 0; i < list.length; i += HITS_PER_CALL) {
          const encoded: string[] = [];
          for (const { tail, sourceId: _, ...fields } of list.slice(i, i + HITS_PER_CALL)) encoded.push(JSON.stringify(fields), JSON.stringify(tail));
          pipeline.rtRecord(...keys, ...args, ...encoded);
        }
      }
      const results = await call(() => pipeline.exec());
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw translate(failed[0]);
    },

    async snapshot(sourceId, now) {
      const [version, total, engaged, engagedSum, referrerPairs, audience, scroll, pages, minuteValues] = await call(() =>
        redis.rtSnapshot(
          ...['seen', 'vis', 'min', 'ver'].map((part) => key(sourceId, part)),
          String(now),
          String(w.visitorWindowMs),
          String(w.engagedWindowMs),
          String(w.minutes),
          ...SCROLL_BUCKETS.map(String),
        ),
      );
      const referrers = zeroReferrers();
      for (let i = 0; i < referrerPairs.length; i += 2) referrers[referrerPairs[i] as DashboardReferrerClass] = Number(referrerPairs[i + 1]);
      const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
      const minutes = minuteSeries(now, w.minutes, (at) => {
        const i = w.minutes - 1 - (current - at) / MINUTE_MS;
        return { events: Number(minuteValues[2 * i] ?? 0), engagedSeconds: Number(minuteValues[2 * i + 1] ?? 0) };
      });
      const snapshot: LiveSnapshot = {
        sourceId,
        at: new Date(now).toISOString(),
        version: Number(version),
        visitors: { total, engaged, idle: total - engaged },
        pages: rankPages(
          pages.map(([path, title, url, visitors, e]) => ({ path, title, url, visitors, engaged: e })),
          w.topPages,
        ),
        referrers,
        audience: { new: audience[0]!, returning: audience[1]!, unknown: audience[2]! },
        averageEngagedSeconds: averageSeconds(Number(engagedSum), total),
        scrollDepth: scroll,
        minutes,
      };
      return snapshot;
    },

    async version(sourceId) {
      return Number((await call(() => redis.get(key(sourceId, 'ver')))) ?? 0);
    },

    async tail(sourceId, after) {
      const [cursor, newestFirst] = await call(() => redis.rtTail(key(sourceId, 'seq'), key(sourceId, 'tail'), after === undefined ? '' : String(after)));
      const events: TailEvent[] = [];
      for (let i = newestFirst.length - 1; i >= 0; i--) events.push(JSON.parse(newestFirst[i]!) as TailEvent);
      return { cursor, events };
    },

    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The url without its password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
