import type { EventLog, LogConsumer, LogRecord } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import type { StateStore, UsageIncrement } from '../state/state-store.js';
import { peekEnvelope } from '../events/log-record.js';
import { isTransient, totalLag } from './retry.js';

/**
 * The log consumer group of the meter, in both logs. The meter does not read its position from
 * it (see {@link runUsageMeter}); it commits there only so that log retention waits for it.
 */
export const USAGE_GROUP = 'usage';

/** The stream a meter loop counts, and the name its positions are saved under in the metadata store. */
export const USAGE_CONSUMERS = { events: 'usage:events', failed: 'usage:failed' } as const;

export type MeteredStream = keyof typeof USAGE_CONSUMERS;

export interface UsageMeterOptions {
  /** The log of accepted events. */
  eventsLog: EventLog;
  /** The log of failed events. */
  failedLog: EventLog;
  state: Pick<StateStore, 'addUsage' | 'consumerPositions' | 'getSource'>;
  logger: Logger;
  signal: AbortSignal;
  /** Records per batch (one metadata transaction each); default 5,000. */
  maxRecords?: number;
  /** How long a batch waits to fill; default 500 ms. */
  maxWaitMs?: number;
  /**
   * At most one commit of the log group per this many milliseconds (default 5,000): it only
   * lets retention proceed, and each costs a few fsyncs per partition.
   */
  logCommitMs?: number;
  /** After each counted batch. */
  onBatch?(stream: MeteredStream, records: number): void;
  /** Records not yet counted, whenever a stream is idle. */
  onLag?(stream: MeteredStream, records: number): void;
}

const HOUR_MS = 3_600_000;

/**
 * Counts usage per source and UTC hour (of `receivedAt`): accepted events from the events log,
 * failed events from the failed log, and bytes, which are the stored record bytes (the log
 * record: the event as stored in a small envelope naming its source).
 *
 * Exactly once across restarts: each batch's counts and the positions after it are saved in one
 * metadata transaction (`addUsage`), and every start seeks to the saved positions. The log's own
 * committed offset is not used for that, since it lives in another store and a crash between the
 * two would count a batch twice or never. The meter still commits the same positions to its log
 * group afterwards (at most every `logCommitMs`), so retention never deletes a segment it has
 * not counted; that commit may trail the saved positions, never lead them.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const done = runUsageMeter({ eventsLog, failedLog, state, logger, signal: stop.signal });
 * stop.abort(); await done;
 * ```
 */
export async function runUsageMeter(opts: UsageMeterOptions): Promise<void> {
  const workspaces = new WorkspaceOf(opts.state);
  const streams: Array<[MeteredStream, EventLog]> = [
    ['events', opts.eventsLog],
    ['failed', opts.failedLog],
  ];
  const results = await Promise.allSettled(streams.map(([stream, log]) => meterStream(stream, log, workspaces, opts)));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

async function meterStream(stream: MeteredStream, log: EventLog, workspaces: WorkspaceOf, opts: UsageMeterOptions): Promise<void> {
  const name = USAGE_CONSUMERS[stream];
  while (!opts.signal.aborted) {
    const consumer = await log.consumer(USAGE_GROUP, { start: 'earliest' });
    try {
      for (const [partition, offset] of await opts.state.consumerPositions(name)) consumer.seek(partition, offset);
      await countBatches(stream, consumer, workspaces, opts);
    } catch (err) {
      if (!isTransient(err)) {
        opts.logger.error({ err, stream }, 'usage meter stopped');
        throw err;
      }
      opts.logger.warn({ err, stream }, 'usage meter: metadata store busy; retrying from the saved positions');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await consumer.close().catch(() => {});
    }
  }
}

async function countBatches(stream: MeteredStream, consumer: LogConsumer, workspaces: WorkspaceOf, opts: UsageMeterOptions): Promise<void> {
  const name = USAGE_CONSUMERS[stream];
  const counted = new Map<number, number>();
  let lastCommit = 0;
  let uncommitted = false;
  while (!opts.signal.aborted) {
    const records = await consumer.poll({ maxRecords: opts.maxRecords ?? 5000, maxWaitMs: opts.maxWaitMs ?? 500, signal: opts.signal });
    if (records.length === 0) {
      // Idle: commit what was counted, or the group would hold back retention and the
      // collector's backlog budget (which waits for every group) until the next event.
      if (uncommitted) {
        await consumer.commit(counted);
        lastCommit = Date.now();
        uncommitted = false;
      }
      if (opts.onLag) opts.onLag(stream, totalLag(await consumer.lag()));
      continue;
    }
    const { rows, positions } = await tally(records, workspaces);
    await opts.state.addUsage(rows, name, positions);
    for (const [p, o] of positions) counted.set(p, o);
    uncommitted = true;
    if (Date.now() - lastCommit >= (opts.logCommitMs ?? 5000)) {
      await consumer.commit(counted);
      lastCommit = Date.now();
      uncommitted = false;
    }
    opts.onBatch?.(stream, records.length);
  }
}

/**
 * Usage increments of a batch of records, and the next offset per partition after it.
 *
 * @example
 * ```ts
 * const { rows, positions } = await tally(records, new WorkspaceOf(state));
 * await state.addUsage(rows, 'usage:events', positions);
 * ```
 */
export async function tally(records: LogRecord[], workspaces: WorkspaceOf): Promise<{ rows: UsageIncrement[]; positions: Map<number, number> }> {
  const rows = new Map<string, UsageIncrement>();
  const positions = new Map<number, number>();
  for (const r of records) {
    positions.set(r.partition, Math.max(positions.get(r.partition) ?? 0, r.offset + 1));
    // The envelope is all metering needs.
    const d = peekEnvelope(r.value);
    const hour = hourOf(d.receivedAt);
    const key = `${d.sourceId}\u0000${hour}`;
    let row = rows.get(key);
    if (row === undefined) {
      const workspaceId = await workspaces.of(d.sourceId);
      rows.set(key, (row = { sourceId: d.sourceId, workspaceId, hour: new Date(hour), accepted: 0, failed: 0, bytes: 0 }));
    }
    if (d.kind === 'event') row.accepted++;
    else row.failed++;
    row.bytes += r.value.length;
  }
  return { rows: [...rows.values()], positions };
}

// Records arrive in time order: one hour's times share their first 13 characters, parsed once.
let lastHourText = '';
let lastHour = 0;

/** Start of the UTC hour of an ISO time, in milliseconds. The collector always sets receivedAt. */
function hourOf(iso: string | undefined): number {
  // The collector's own format (toISOString's): the hour is its first 13 characters.
  if (iso !== undefined && iso.length === 24 && iso.charCodeAt(23) === 0x5a /* Z */) {
    const text = iso.slice(0, 13);
    if (text === lastHourText) return lastHour;
    const ms = Date.parse(`${text}:00:00.000Z`);
    if (!Number.isNaN(ms)) {
      lastHourText = text;
      return (lastHour = ms);
    }
  }
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Math.floor((Number.isNaN(ms) ? Date.now() : ms) / HOUR_MS) * HOUR_MS;
}

/**
 * The workspace of each source, looked up once: sources never move between workspaces. A source
 * missing from the metadata store (it never is today: sources are not deleted) is counted under
 * the workspace id `''` rather than stopping the meter.
 */
export class WorkspaceOf {
  readonly #cache = new Map<string, string>();

  constructor(private readonly state: Pick<StateStore, 'getSource'>) {}

  async of(sourceId: string): Promise<string> {
    let id = this.#cache.get(sourceId);
    if (id === undefined) {
      id = (await this.state.getSource(sourceId))?.workspaceId ?? '';
      this.#cache.set(sourceId, id);
    }
    return id;
  }
}
