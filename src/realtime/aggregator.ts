import type { EventLog, LogConsumer, LogRecord } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import { dashboardReferrerClass, type ReferrerType } from '../enrich/referrer.js';
import { describeEvent } from '../enrich/describe.js';
import { backoff, isTransient } from '../consumers/retry.js';

const REFERRER_ONLY = Object.freeze(['referrer']);
import type { LiveHit, RealtimeStore } from './realtime-store.js';

/** The consumer group of the real-time aggregator on the events log. */
export const REALTIME_GROUP = 'realtime';

/** Records received longer ago than this are skipped: the windows never reach further back. */
export const REALTIME_HORIZON_MS = 30 * 60_000;

/** Page paths, titles and urls are cut to this many characters: they are held per visitor. */
const MAX_TEXT = 300;
const REFERRER_TYPES: ReadonlySet<string> = new Set<ReferrerType>(['search', 'social', 'email', 'internal', 'direct', 'other']);
/** One ping cannot report more engaged time than this (the tracker pings every 15 s). */
const MAX_ENGAGED_SECONDS = 3600;

export interface AggregatorOptions {
  log: EventLog;
  store: RealtimeStore;
  logger: Logger;
  signal: AbortSignal;
  /** The clock, for skipping old records; default `Date.now`. */
  now?: () => number;
  /** Records per poll; default 5,000. */
  maxRecords?: number;
  /** At most one commit of the group per this many milliseconds (default 5,000). */
  commitMs?: number;
  /** After each batch: hits recorded, records skipped as too old, and how old the newest hit was. */
  onBatch?(stats: { hits: number; skipped: number; delayMs: number | undefined }): void;
}

/**
 * The real-time aggregator: consumer group `realtime` on the events log, turning each accepted
 * event into a {@link LiveHit} for the RealtimeStore. On start it reads from the first record
 * received in the last 30 minutes (a persistent store: from its committed offset, if later), so
 * a restart rebuilds the windows without replaying history into them. Commits are for retention
 * and for persistent stores: losing the last few seconds of them replays a few seconds of hits,
 * which the windows absorb.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const done = runRealtimeAggregator({ log, store, logger, signal: stop.signal });
 * stop.abort(); await done;
 * ```
 */
export async function runRealtimeAggregator(opts: AggregatorOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const consumer = await opts.log.consumer(REALTIME_GROUP, { start: 'earliest' });
  let lastCommit = now();
  let uncommitted = false;
  try {
    await seekHorizon(opts.log, consumer, now() - REALTIME_HORIZON_MS, opts.store.persistent);
    while (!opts.signal.aborted) {
      const records = await consumer.poll({ maxRecords: opts.maxRecords ?? 5000, maxWaitMs: 1000, signal: opts.signal });
      if (records.length === 0) {
        // Idle: commit what was read, or the log would count it as unread (holding retention and
        // the backlog budget) until the next event arrives.
        if (uncommitted && !opts.signal.aborted) {
          await consumer.commit();
          uncommitted = false;
          lastCommit = now();
        }
        continue;
      }
      uncommitted = true;
      const { hits, skipped } = decodeHits(records, now() - REALTIME_HORIZON_MS);
      if (hits.length > 0) await recordRetrying(opts, hits);
      opts.onBatch?.({ hits: hits.length, skipped, delayMs: hits.length > 0 ? now() - hits[hits.length - 1]!.at : undefined });
      if (now() - lastCommit >= (opts.commitMs ?? 5000)) {
        await consumer.commit();
        uncommitted = false;
        lastCommit = now();
      }
    }
    await consumer.commit();
  } catch (err) {
    if (!opts.signal.aborted) throw err;
  } finally {
    await consumer.close().catch((err: unknown) => opts.logger.warn({ err }, 'realtime consumer did not close cleanly'));
  }
}

/**
 * Records a batch, retrying while the store is unreachable (Redis restarting): the same hits
 * again, not a replay from the committed offset, which would count the last seconds twice. The
 * log keeps the rest meanwhile. Stops retrying when the aggregator stops.
 */
async function recordRetrying(opts: AggregatorOptions, hits: LiveHit[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await opts.store.record(hits);
    } catch (err) {
      if (!isTransient(err) || opts.signal.aborted) throw err;
      opts.logger.warn({ err, attempt }, 'real-time store unavailable; retrying the batch');
      await backoff(attempt, opts.signal);
    }
  }
}

/**
 * Moves the consumer, per partition, to the first record received at `since` or later. A
 * persistent store moves only forward from the committed offset: after a long stop (or on the
 * first start, from the earliest retained record) it then reads only the last 30 minutes instead
 * of days of history. A store that starts empty (memory) moves back too, to be refilled with the
 * last 30 minutes. A partition's records are appended in the order they were received, so a
 * binary search over offsets finds the place in a few dozen single-record reads.
 */
async function seekHorizon(log: EventLog, consumer: LogConsumer, since: number, persistent: boolean): Promise<void> {
  const committed = (await log.groups()).get(REALTIME_GROUP);
  const stats = await log.stats();
  const probe = await log.consumer(`${REALTIME_GROUP}-seek`, { ephemeral: true, start: 'latest' });
  try {
    const receivedAt = async (partition: number, offset: number): Promise<number | undefined> => {
      // Every other partition at its end, so the poll reads this one (records appended meanwhile
      // elsewhere may come first: a few more polls get past them).
      for (const st of stats) probe.seek(st.partition, st.partition === partition ? offset : st.nextOffset);
      for (let i = 0; i < 5; i++) {
        const records = await probe.poll({ maxRecords: 50, maxWaitMs: 0 });
        const r = records.find((x) => x.partition === partition);
        if (r) return r.offset === offset ? decodeHits([r], -Infinity).hits[0]?.at : undefined;
        if (records.length === 0) return undefined;
      }
      return undefined;
    };
    for (const st of stats) {
      const position = Math.max(st.firstOffset, committed?.get(st.partition) ?? st.firstOffset);
      let lo = persistent ? position : st.firstOffset;
      let hi = st.nextOffset;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const at = await receivedAt(st.partition, mid);
        // A record that cannot be read or decoded is not a reason to skip: search left of it.
        if (at !== undefined && at < since) lo = mid + 1;
        else hi = mid;
      }
      if (lo !== position) consumer.seek(st.partition, lo);
    }
  } finally {
    await probe.close();
  }
}

/**
 * Hits of a batch of log records, skipping failed-event records, unreadable ones and events
 * received before `since`.
 *
 * @example
 * ```ts
 * const { hits, skipped } = decodeHits(records, Date.now() - REALTIME_HORIZON_MS);
 * ```
 */
export function decodeHits(records: readonly LogRecord[], since: number): { hits: LiveHit[]; skipped: number } {
  const hits: LiveHit[] = [];
  let skipped = 0;
  for (const r of records) {
    let rec: { kind?: unknown; sourceId?: unknown; event?: unknown; enrich?: unknown };
    try {
      // JSON.parse of the whole record is the cheapest full decode V8 has (bench:realtime
      // measures it); a hand-rolled partial scan would not be faster for the fields needed here.
      rec = JSON.parse(r.value.toString('utf8')) as typeof rec;
    } catch {
      skipped++;
      continue;
    }
    // Descriptive enrichment runs where the log is read (src/enrich/describe.ts); of its steps the
    // live view needs only the referrer's class, so only that one runs here.
    if (isObject(rec.event) && Array.isArray(rec.enrich) && rec.enrich.includes('referrer')) describeEvent(rec.event, REFERRER_ONLY);
    const hit = rec.kind === 'event' && typeof rec.sourceId === 'string' && isObject(rec.event) ? toHit(rec.sourceId, rec.event) : undefined;
    if (hit === undefined || hit.at < since) skipped++;
    else hits.push(hit);
  }
  return { hits, skipped };
}

/**
 * The hit of one accepted event, or undefined when it has no receive time or no identity (the
 * collector always sets both; the log is still read defensively).
 *
 * @example
 * ```ts
 * toHit('src_1', { type: 'track', event: 'Page Ping', anonymousId: 'a', receivedAt: '2026-03-02T09:00:00Z',
 *   properties: { page_view_id: 'pv', engaged_seconds: 15 }, context: { page: { path: '/' } } });
 * // { kind: 'ping', engagedSeconds: 15, path: '/', ... }
 * ```
 */
export function toHit(sourceId: string, e: Record<string, unknown>): LiveHit | undefined {
  const receivedAt = text(e.receivedAt);
  const at = receivedAt === undefined ? NaN : Date.parse(receivedAt);
  const visitorId = text(e.anonymousId) ?? text(e.userId);
  if (receivedAt === undefined || Number.isNaN(at) || visitorId === undefined) return undefined;
  const props = isObject(e.properties) ? e.properties : undefined;
  const context = isObject(e.context) ? e.context : undefined;
  const page = context && isObject(context.page) ? context.page : undefined;
  const type = String(e.type);
  const isPing = type === 'track' && e.event === 'Page Ping';
  const kind: LiveHit['kind'] =
    context?.bot === true ? 'other' : type === 'page' ? 'page' : isPing ? (props?.page_leave === true ? 'leave' : 'ping') : 'other';
  const hit: LiveHit = {
    sourceId,
    at,
    visitorId,
    kind,
    engagedSeconds: isPing ? clamp(props?.engaged_seconds, MAX_ENGAGED_SECONDS) ?? 0 : 0,
    tail: {
      messageId: String(e.messageId),
      type,
      event: text(e.event) ?? null,
      name: text(e.name) ?? null,
      receivedAt,
      anonymousId: text(e.anonymousId) ?? null,
      userId: text(e.userId) ?? null,
      properties: e.properties ?? e.traits ?? null,
      context: e.context ?? null,
    },
  };
  if (kind === 'other') return hit;
  // Analytics.js puts the page in context.page; a bare page call may have it in properties only.
  const where = page ?? (type === 'page' ? props : undefined);
  hit.pageViewId = text(props?.page_view_id);
  hit.path = cut(where?.path) ?? pathOf(where?.url) ?? '/';
  hit.title = cut(where?.title) ?? '';
  hit.url = cut(where?.url) ?? '';
  const referrer = context && isObject(context.referrer) ? context.referrer.type : undefined;
  // A client may send its own context.referrer (Segment's app referral), with any type.
  if (typeof referrer === 'string') hit.referrer = REFERRER_TYPES.has(referrer) ? dashboardReferrerClass(referrer as ReferrerType) : 'other';
  if (typeof context?.returning === 'boolean') hit.returning = context.returning;
  if (isPing) {
    hit.totalEngagedSeconds = clamp(props?.total_engaged_seconds, 86_400);
    hit.scrollDepth = clamp(props?.max_scroll_depth, 100);
  }
  return hit;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function cut(v: unknown): string | undefined {
  const s = text(v);
  return s === undefined || s.length <= MAX_TEXT ? s : s.slice(0, MAX_TEXT);
}

function clamp(v: unknown, max: number): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(0, v)) : undefined;
}

function pathOf(url: unknown): string | undefined {
  const s = text(url);
  if (s === undefined) return undefined;
  try {
    return cut(new URL(s).pathname);
  } catch {
    return undefined;
  }
}
