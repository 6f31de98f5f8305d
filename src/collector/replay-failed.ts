import { createHash } from 'node:crypto';
import { WeirError, type ErrorCode } from '../errors/catalogue.js';
import type { FailedEvent, StateStore } from '../state/state-store.js';
import { processItem, type IngestLimits, type ItemResult } from './ingest.js';
import { inspectStructure } from './steps/inspect-structure.js';
import type { Enricher } from '../enrich/enricher.js';
import type { SourceEnrichers } from './source-enrichers.js';

/** Failed events read, checked and appended per step. */
export const REPLAY_PAGE_SIZE = 500;

export interface ReplayFailedOptions {
  sourceId?: string;
  reason?: string;
  /** Failed events received at or after this time. */
  since?: Date;
  /** Replay events that were replayed before too; by default they are skipped. */
  again?: boolean;
  /** Check only: append nothing and mark nothing. */
  dryRun?: boolean;
  /** Continue after this failed-event id, the `nextAfterId` of a previous call. */
  afterId?: number;
  /** Examine at most this many failed events in this call; default all. */
  limit?: number;
  /** After each page, with the counts so far. */
  onProgress?(summary: Readonly<ReplaySummary>): void;
}

export interface ReplaySummary {
  examined: number;
  /** Valid under the current configuration: appended to the event log (in a dry run, would be). */
  valid: number;
  /** Still refused under the current configuration, per reason code. */
  stillFailing: Record<string, number>;
  /** Id of the last failed event examined, to continue from; null once none is left. */
  nextAfterId: number | null;
  dryRun: boolean;
}

/**
 * The `enricher` of {@link ReplayDeps}: each source's enrichment as configured now.
 *
 * @example
 * ```ts
 * await replayFailedEvents({ state, limits, append, enricher: currentEnricher(state, enrichers) });
 * ```
 */
export function currentEnricher(
  state: Pick<StateStore, 'getSource'>,
  enrichers: Pick<SourceEnrichers, 'for'> | undefined,
): (sourceId: string) => Promise<Enricher | undefined> {
  return async (sourceId) => {
    const source = await state.getSource(sourceId);
    return source && enrichers?.for(source);
  };
}

export interface ReplayDeps {
  state: Pick<StateStore, 'listFailedEvents' | 'markFailedEventsReplayed'>;
  /** The limits in force now. */
  limits: IngestLimits;
  /** Appends accepted-event records to the event log, resolving once they are durable. */
  append(records: Buffer[]): Promise<unknown>;
  /** The enrichment in force now for a source (so e.g. a bot refused earlier passes once bots are kept). */
  enricher?(sourceId: string): Promise<Enricher | undefined>;
  now?: () => Date;
}

/**
 * Re-validates failed events under the current configuration and appends those that now pass
 * to the event log, as if they had just been accepted, except that they keep their `receivedAt`
 * and their `messageId`. An item that had no messageId gets one derived from its failed record
 * ({@link replayMessageId}), so replaying it again yields the same id and the warehouse, which
 * deduplicates by messageId, holds it once however often it is replayed.
 *
 * Replayed failed events are marked (`replayedAt`) after their append is durable, and skipped
 * by later calls unless `again` is set. A crash between the two leaves them unmarked: the next
 * replay appends them again, which the warehouse absorbs.
 *
 * What is not stored with a failed event cannot be replayed: the batch-level `context`,
 * `integrations` and `sentAt` of the request it came in (the item's own are kept), and a number
 * out of range, which JSON turned into null (such events stay failed: replaying would store null).
 *
 * @example
 * ```ts
 * const s = await replayFailedEvents({ state, limits: config.limits, append: (r) => writer.append(r) }, { reason: 'WEIR_EVENT_BOT' });
 * // { examined: 40, valid: 38, stillFailing: { WEIR_EVENT_MISSING_IDENTITY: 2 }, nextAfterId: null, dryRun: false }
 * ```
 */
export async function replayFailedEvents(deps: ReplayDeps, options: ReplayFailedOptions = {}): Promise<ReplaySummary> {
  const summary: ReplaySummary = { examined: 0, valid: 0, stillFailing: {}, nextAfterId: null, dryRun: options.dryRun === true };
  const max = options.limit ?? Number.POSITIVE_INFINITY;
  let afterId = options.afterId ?? 0;
  while (summary.examined < max) {
    const page = await deps.state.listFailedEvents({
      sourceId: options.sourceId,
      reason: options.reason,
      since: options.since,
      replayed: options.again ? undefined : false,
      afterId,
      limit: Math.min(REPLAY_PAGE_SIZE, max - summary.examined),
    });
    if (page.length === 0) {
      summary.nextAfterId = null;
      break;
    }
    const records: Buffer[] = [];
    const ids: number[] = [];
    for (const failed of page) {
      const r = replayItem(failed, deps.limits, await deps.enricher?.(failed.sourceId));
      if (r.ok) {
        records.push(r.record);
        ids.push(failed.id);
      } else {
        summary.stillFailing[r.code] = (summary.stillFailing[r.code] ?? 0) + 1;
      }
    }
    if (!summary.dryRun && records.length > 0) {
      await deps.append(records);
      await deps.state.markFailedEventsReplayed(ids, deps.now?.() ?? new Date());
    }
    summary.valid += records.length;
    summary.examined += page.length;
    afterId = page[page.length - 1]!.id;
    summary.nextAfterId = afterId;
    options.onProgress?.(summary);
  }
  return summary;
}

/**
 * One failed event through the collector's steps again: the accepted-event record it makes now,
 * or the reason it still fails.
 */
export function replayItem(failed: FailedEvent, limits: IngestLimits, enrich?: Enricher): ItemResult {
  if (failed.reason === 'WEIR_EVENT_NON_FINITE_NUMBER') return refused('WEIR_EVENT_NON_FINITE_NUMBER');
  let item: unknown;
  try {
    item = JSON.parse(failed.payload);
  } catch {
    return refused('WEIR_EVENT_NOT_AN_OBJECT');
  }
  const structure = inspectStructure(item, limits);
  if (structure.kind === 'too-deep') return refused('WEIR_INGEST_TOO_DEEP');
  if (structure.kind === 'too-many-properties') return refused('WEIR_INGEST_TOO_MANY_PROPERTIES');
  if (structure.kind === 'forbidden-key') return refused('WEIR_INGEST_FORBIDDEN_KEY');
  if (isPlainObject(item) && (item.messageId === undefined || item.messageId === null)) {
    item = { ...item, messageId: replayMessageId(failed) };
  }
  const receivedAt = failed.receivedAt;
  try {
    return processItem(item, failed.sourceId, { receivedAt }, receivedAt.toISOString(), limits, 0, undefined, enrich);
  } catch (err) {
    if (err instanceof WeirError && err.code === 'WEIR_INGEST_EVENT_TOO_LARGE') return refused(err.code);
    throw err;
  }
}

/**
 * The messageId a replayed item without one gets: a UUID (version 8, name-based) hashed from its
 * failed record's source, receipt time and log position, the same on every replay.
 *
 * @example
 * ```ts
 * replayMessageId({ sourceId: 'src_1', receivedAt, partition: 0, offset: 41 }); // '3f0c…-…'
 * ```
 */
export function replayMessageId(failed: Pick<FailedEvent, 'sourceId' | 'receivedAt' | 'partition' | 'offset'>): string {
  const hex = createHash('sha256')
    .update(`weir-failed\u0000${failed.sourceId}\u0000${failed.receivedAt.toISOString()}\u0000${failed.partition}\u0000${failed.offset}`)
    .digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function refused(code: ErrorCode): ItemResult {
  return { ok: false, code, params: {} };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
