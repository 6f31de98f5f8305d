import type { DashboardReferrerClass } from '../../enrich/referrer.js';
import {
  DEFAULT_WINDOWS,
  SCROLL_BUCKETS,
  type LiveHit,
  type LiveSnapshot,
  type RealtimeStore,
  type RealtimeWindows,
  type TailEvent,
  type TailPage,
} from '../realtime-store.js';
import { averageSeconds, MINUTE_MS, minuteSeries, rankPages, zeroReferrers } from '../snapshot-parts.js';

interface Visitor {
  lastSeen: number;
  /** Last page view or ping with engaged seconds; -Infinity when never. */
  lastEngaged: number;
  /** `at` of the hit that set the page fields, so a late hit of an older page view cannot take them back. */
  pageAt: number;
  pageViewId: string | undefined;
  path: string;
  title: string;
  url: string;
  referrer: DashboardReferrerClass;
  returning: boolean | undefined;
  engagedSeconds: number;
  scrollDepth: number;
}

interface Minute {
  /** Start of the minute, ms; -1 when the slot is unused. */
  at: number;
  events: number;
  engagedSeconds: number;
}

class SourceWindows {
  /**
   * Visitors in least-recently-seen order: each hit deletes and re-inserts its visitor, so the
   * first entries are the ones to expire or evict.
   */
  readonly visitors = new Map<string, Visitor>();
  readonly minutes: Minute[];
  readonly tail: TailEvent[];
  /** Sequence number of the newest tail event. */
  cursor = 0;
  version = 0;

  constructor(readonly w: RealtimeWindows) {
    this.minutes = Array.from({ length: w.minutes }, () => ({ at: -1, events: 0, engagedSeconds: 0 }));
    this.tail = new Array<TailEvent>(w.tailSize);
  }

  add(hit: LiveHit): void {
    this.version++;
    this.cursor++;
    if (this.w.tailSize > 0) this.tail[this.cursor % this.w.tailSize] = hit.tail;
    this.count(hit);
    if (hit.kind === 'other') {
      const known = this.visitors.get(hit.visitorId);
      if (known) this.touch(hit.visitorId, known, hit.at);
      return;
    }
    let v = this.visitors.get(hit.visitorId);
    if (hit.kind === 'leave') {
      // Only the page view on screen leaves: a late leave of an earlier page of the same visitor
      // (classic navigation: pagehide of A, then the page view of B) must not drop them from B.
      if (v && (v.pageViewId === undefined || v.pageViewId === hit.pageViewId) && hit.at >= v.pageAt) this.visitors.delete(hit.visitorId);
      return;
    }
    if (v === undefined) {
      v = {
        lastSeen: hit.at,
        lastEngaged: -Infinity,
        pageAt: -Infinity,
        pageViewId: undefined,
        path: '',
        title: '',
        url: '',
        referrer: 'direct',
        returning: undefined,
        engagedSeconds: 0,
        scrollDepth: 0,
      };
    }
    if (hit.kind === 'page' || hit.engagedSeconds > 0) v.lastEngaged = Math.max(v.lastEngaged, hit.at);
    if (hit.at >= v.pageAt) {
      const samePage = hit.pageViewId !== undefined && hit.pageViewId === v.pageViewId;
      v.pageAt = hit.at;
      v.pageViewId = hit.pageViewId;
      if (hit.path !== undefined) v.path = hit.path;
      if (hit.title !== undefined) v.title = hit.title;
      if (hit.url !== undefined) v.url = hit.url;
      if (hit.referrer !== undefined) v.referrer = hit.referrer;
      if (hit.returning !== undefined || !samePage) v.returning = hit.returning;
      if (!samePage) v.engagedSeconds = v.scrollDepth = 0;
      if (hit.totalEngagedSeconds !== undefined) v.engagedSeconds = Math.max(v.engagedSeconds, hit.totalEngagedSeconds);
      if (hit.scrollDepth !== undefined) v.scrollDepth = Math.max(v.scrollDepth, hit.scrollDepth);
    }
    this.touch(hit.visitorId, v, hit.at);
    while (this.visitors.size > this.w.maxVisitors) this.visitors.delete(this.visitors.keys().next().value!);
  }

  private touch(id: string, v: Visitor, at: number): void {
    if (at < v.lastSeen) return;
    v.lastSeen = at;
    this.visitors.delete(id);
    this.visitors.set(id, v);
  }

  private count(hit: LiveHit): void {
    const at = Math.floor(hit.at / MINUTE_MS) * MINUTE_MS;
    const slot = this.minutes[Math.floor(at / MINUTE_MS) % this.minutes.length]!;
    if (slot.at < at) Object.assign(slot, { at, events: 0, engagedSeconds: 0 });
    else if (slot.at > at) return; // older than the whole series
    slot.events++;
    slot.engagedSeconds += hit.engagedSeconds;
  }

  snapshot(sourceId: string, now: number): LiveSnapshot {
    const oldest = now - this.w.visitorWindowMs;
    const engagedSince = now - this.w.engagedWindowMs;
    const referrers = zeroReferrers();
    const audience = { new: 0, returning: 0, unknown: 0 };
    const scrollDepth = SCROLL_BUCKETS.map(() => 0);
    const pages = new Map<string, { path: string; title: string; url: string; visitors: number; engaged: number; titleAt: number }>();
    let engaged = 0;
    let engagedSeconds = 0;
    for (const [id, v] of this.visitors) {
      // Not a break at the first current visitor: hits of several partitions interleave, so the
      // map is only roughly in last-seen order.
      if (v.lastSeen < oldest) {
        this.visitors.delete(id);
        continue;
      }
      const isEngaged = v.lastEngaged >= engagedSince;
      if (isEngaged) engaged++;
      referrers[v.referrer]++;
      audience[v.returning === undefined ? 'unknown' : v.returning ? 'returning' : 'new']++;
      engagedSeconds += v.engagedSeconds;
      scrollDepth[SCROLL_BUCKETS.findIndex((top, i) => v.scrollDepth < top || i === SCROLL_BUCKETS.length - 1)]!++;
      let page = pages.get(v.path);
      if (page === undefined) pages.set(v.path, (page = { path: v.path, title: v.title, url: v.url, visitors: 0, engaged: 0, titleAt: v.pageAt }));
      else if (v.pageAt > page.titleAt) Object.assign(page, { title: v.title, url: v.url, titleAt: v.pageAt });
      page.visitors++;
      if (isEngaged) page.engaged++;
    }
    const total = this.visitors.size;
    const minutes = minuteSeries(now, this.minutes.length, (at) => {
      const slot = this.minutes[Math.floor(at / MINUTE_MS) % this.minutes.length]!;
      return slot.at === at ? { events: slot.events, engagedSeconds: slot.engagedSeconds } : { events: 0, engagedSeconds: 0 };
    });
    return {
      sourceId,
      at: new Date(now).toISOString(),
      version: this.version,
      visitors: { total, engaged, idle: total - engaged },
      pages: rankPages(pages.values(), this.w.topPages),
      referrers,
      audience,
      averageEngagedSeconds: averageSeconds(engagedSeconds, total),
      scrollDepth,
      minutes,
    };
  }

  tailAfter(after: number | undefined): TailPage {
    const size = this.w.tailSize;
    const kept = Math.min(this.cursor, size);
    const from = after === undefined || after > this.cursor ? this.cursor - kept : Math.max(after, this.cursor - kept);
    const events: TailEvent[] = [];
    for (let seq = from + 1; seq <= this.cursor; seq++) events.push(this.tail[seq % size]!);
    return { cursor: this.cursor, events };
  }
}

/**
 * The embedded RealtimeStore: plain maps in the process that runs the aggregator (the sinks
 * process of `weir up`). State is lost on restart; the aggregator rebuilds it from the last
 * 30 minutes of the log.
 *
 * @example
 * ```ts
 * const store = createMemoryRealtimeStore({ visitorWindowMs: 30_000 });
 * await store.record(hits);
 * const snap = await store.snapshot('src_1', Date.now());
 * ```
 */
export function createMemoryRealtimeStore(windows: Partial<RealtimeWindows> = {}): RealtimeStore {
  const w: RealtimeWindows = { ...DEFAULT_WINDOWS, ...windows };
  const sources = new Map<string, SourceWindows>();
  const of = (sourceId: string): SourceWindows => {
    let s = sources.get(sourceId);
    if (s === undefined) sources.set(sourceId, (s = new SourceWindows(w)));
    return s;
  };
  return {
    persistent: false,
    async record(hits) {
      for (const hit of hits) of(hit.sourceId).add(hit);
    },
    async snapshot(sourceId, now) {
      // A source without hits is not kept: snapshots are asked for with ids from requests.
      return (sources.get(sourceId) ?? new SourceWindows(w)).snapshot(sourceId, now);
    },
    async version(sourceId) {
      return sources.get(sourceId)?.version ?? 0;
    },
    async tail(sourceId, after) {
      return sources.get(sourceId)?.tailAfter(after) ?? { cursor: 0, events: [] };
    },
    async close() {
      sources.clear();
    },
  };
}
