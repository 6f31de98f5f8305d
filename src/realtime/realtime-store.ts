import type { DashboardReferrerClass } from '../enrich/referrer.js';

/**
 * The RealtimeStore port: per source, the sliding windows behind the Live page and the recent
 * events behind the live tail. The aggregator writes {@link LiveHit}s into it; the live API reads
 * snapshots and the tail out of it.
 *
 * Time is always passed in (each hit's `at`, each snapshot's `now`): the store never reads a
 * clock, so adapters agree on the same inputs and tests need no fake timers.
 *
 * Semantics every adapter keeps (checked by `test/contract/realtime-store.contract.ts`):
 * - A visitor is current while their last hit is at most `visitorWindowMs` old, and engaged while
 *   their last engaged hit (a page view, or a ping with engaged seconds) is at most
 *   `engagedWindowMs` old. A `leave` hit of their current page view removes them at once.
 * - Each visitor is counted on the page of their newest page view or ping; the referrer class,
 *   new/returning, engaged seconds and scroll depth are those of that page view.
 * - Memory is bounded: at most `maxVisitors` visitors per source (the least recently seen are
 *   evicted first) and `tailSize` events in the tail.
 * - Minutes are UTC minutes of `at`; a snapshot lists the last `minutes` of them, oldest first.
 *
 * Adapters: `memory/` (embedded default, `persistent: false`) and `redis/` (shared by every
 * process that reaches it, `persistent: true`: a sorted set of visitors by last-seen time, their
 * page views in a hash, counters per minute, a capped list for the tail, each write and each
 * snapshot one Lua script). `openRealtimeStore` picks one from `realtime.store`.
 *
 * @example
 * ```ts
 * const store = createMemoryRealtimeStore();
 * await store.record([{ sourceId: 's', at: Date.now(), visitorId: 'v1', kind: 'page', path: '/', engagedSeconds: 0, tail }]);
 * const snap = await store.snapshot('s', Date.now());
 * snap.visitors; // { total: 1, engaged: 1, idle: 0 }
 * ```
 */
export interface RealtimeStore {
  /**
   * Whether the state outlives the process. The aggregator resumes a persistent store from its
   * committed offset, and refills one that is not (memory) from the last 30 minutes of the log.
   */
  readonly persistent: boolean;
  /** Applies hits, in the order they were received. */
  record(hits: readonly LiveHit[]): Promise<void>;
  /** The windows of a source as of `now` (milliseconds since the epoch). */
  snapshot(sourceId: string, now: number): Promise<LiveSnapshot>;
  /**
   * A number that changes whenever hits of the source are recorded, so a poller can skip
   * unchanged snapshots cheaply. It is not ordered across restarts: compare it for equality only.
   */
  version(sourceId: string): Promise<number>;
  /**
   * Tail events of a source with a sequence number above `after`, oldest first (all that are
   * kept when `after` is absent, or when it is ahead of the store, which happens after a restart
   * of an in-memory store). `cursor` is the sequence number of the newest event kept.
   */
  tail(sourceId: string, after?: number): Promise<TailPage>;
  close(): Promise<void>;
}

/** How the windows are sized; every adapter takes the same options. */
export interface RealtimeWindows {
  /** A visitor seen within this long is current. Default 35 s: two 15 s pings and a margin. */
  visitorWindowMs: number;
  /** A visitor engaged within this long is engaged, else idle. Default 20 s: one ping and a margin. */
  engagedWindowMs: number;
  /** Visitors kept per source; the least recently seen go first. Default 20,000. */
  maxVisitors: number;
  /** Pages listed in a snapshot. Default 10. */
  topPages: number;
  /** Events kept per source for the live tail. Default 200. */
  tailSize: number;
  /** Minutes of events and engaged time in a snapshot. Default 30. */
  minutes: number;
}

export const DEFAULT_WINDOWS: Readonly<RealtimeWindows> = Object.freeze({
  visitorWindowMs: 35_000,
  engagedWindowMs: 20_000,
  maxVisitors: 20_000,
  topPages: 10,
  tailSize: 200,
  minutes: 30,
});

/** One accepted event as the real-time path needs it, extracted once by the aggregator. */
export interface LiveHit {
  sourceId: string;
  /** `receivedAt`, in milliseconds since the epoch. */
  at: number;
  /** `anonymousId`, else `userId`. */
  visitorId: string;
  /**
   * `page`: a page view; `ping`: an engaged-time heartbeat ("Page Ping"); `leave`: the tracker's
   * last ping of a page view, sent on pagehide; `other`: anything else, which counts in the
   * per-minute events and the tail, and keeps a known visitor current. Bots are `other`.
   */
  kind: 'page' | 'ping' | 'leave' | 'other';
  pageViewId?: string;
  path?: string;
  title?: string;
  url?: string;
  referrer?: DashboardReferrerClass;
  /** The tracker's `context.returning`; absent when unknown (cookieless, server-side events). */
  returning?: boolean;
  /** Engaged seconds since the previous ping of the page view. */
  engagedSeconds: number;
  /** Engaged seconds of the page view so far. */
  totalEngagedSeconds?: number;
  /** Deepest scroll of the page view so far, in percent. */
  scrollDepth?: number;
  /** The event as the live tail shows it. */
  tail: TailEvent;
}

/** An event in the live tail: the fields the Events page shows. Every field is attacker-controlled text. */
export interface TailEvent {
  messageId: string;
  type: string;
  event: string | null;
  name: string | null;
  receivedAt: string;
  anonymousId: string | null;
  userId: string | null;
  /** The event's properties (for identify calls, its traits), or null. */
  properties: unknown;
  context: unknown;
}

export interface TailPage {
  /** Sequence number of the newest event kept (0 when none ever was). */
  cursor: number;
  /** The events with sequence numbers `cursor - events.length + 1 … cursor`. */
  events: TailEvent[];
}

export const REFERRER_CLASSES: readonly DashboardReferrerClass[] = ['search', 'social', 'internal', 'direct', 'other'];

/** Upper bounds of the scroll-depth buckets, in percent: 0–25, 25–50, 50–75, 75–100. */
export const SCROLL_BUCKETS: readonly number[] = [25, 50, 75, 100];

/** What the Live page shows, as of `at`. */
export interface LiveSnapshot {
  sourceId: string;
  /** `now` of the snapshot, ISO-8601. */
  at: string;
  version: number;
  visitors: { total: number; engaged: number; idle: number };
  /** Pages by current visitors, most first. Titles and urls are attacker-controlled text. */
  pages: Array<{ path: string; title: string; url: string; visitors: number; engaged: number }>;
  /** Current visitors by the referrer class of their page view. */
  referrers: Record<DashboardReferrerClass, number>;
  /** Current visitors by `context.returning`. */
  audience: { new: number; returning: number; unknown: number };
  /** Mean engaged seconds of the current visitors' page views. */
  averageEngagedSeconds: number;
  /** Current visitors per {@link SCROLL_BUCKETS} bucket (a page view without a ping counts as 0 %). */
  scrollDepth: number[];
  /** The last minutes, oldest first: events received and engaged seconds reported in each. */
  minutes: Array<{ at: string; events: number; engagedSeconds: number }>;
}
