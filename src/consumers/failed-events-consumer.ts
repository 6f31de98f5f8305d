import type { EventLog, LogConsumer } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import type { NewFailedEvent, StateStore } from '../state/state-store.js';
import { decodeLogRecord } from '../events/log-record.js';
import { isTransient, totalLag } from './retry.js';

/** The consumer group that materialises failed events into the metadata store. */
export const FAILED_EVENTS_GROUP = 'failed-events';

/**
 * Copies failed-event records from the failed-events log into the metadata store, where `weir failed list`
 * and the API read them. It commits its offset only after the rows are stored, and the insert is
 * idempotent on (partition, offset), so a crash in between stores nothing twice.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const done = runFailedEventsConsumer({ log, state, logger, signal: stop.signal });
 * stop.abort(); await done;
 * ```
 */
export async function runFailedEventsConsumer(opts: FailedEventsConsumerOptions): Promise<void> {
  while (!opts.signal.aborted) {
    // A fresh consumer starts from the committed offset, so a retry after an error skips nothing.
    const consumer = await opts.log.consumer(FAILED_EVENTS_GROUP, { start: 'earliest' });
    try {
      await copyFailedEvents(consumer, opts);
    } catch (err) {
      if (!isTransient(err)) throw err;
      opts.logger.warn({ err }, 'failed-events store busy; retrying');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await consumer.close().catch(() => {});
    }
  }
}

export interface FailedEventsConsumerOptions {
  log: EventLog;
  state: Pick<StateStore, 'insertFailedEvents'>;
  logger: Logger;
  signal: AbortSignal;
  onLag?: (records: number) => void;
}

async function copyFailedEvents(consumer: LogConsumer, opts: FailedEventsConsumerOptions): Promise<void> {
  while (!opts.signal.aborted) {
    const records = await consumer.poll({ maxRecords: 5000, maxWaitMs: 250, signal: opts.signal });
    if (records.length === 0) {
      opts.onLag?.(totalLag(await consumer.lag()));
      continue;
    }
    const rows: NewFailedEvent[] = [];
    for (const r of records) {
      const d = decodeLogRecord(r.value);
      if (d.kind !== 'failed') continue;
      rows.push({
        sourceId: d.sourceId,
        reason: d.reason,
        message: d.message,
        messageId: d.messageId,
        payload: JSON.stringify(d.payload) ?? 'null',
        receivedAt: new Date(d.receivedAt),
        partition: r.partition,
        offset: r.offset,
      });
    }
    if (rows.length > 0) await opts.state.insertFailedEvents(rows);
    await consumer.commit();
  }
}
