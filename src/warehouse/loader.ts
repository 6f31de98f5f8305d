import type { EventLog, LogRecord } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import { decodeLogRecord } from '../events/log-record.js';
import { isRetriable } from '../errors/catalogue.js';
import { TableWriter, type LoadStats } from './table-writer.js';
import type { Warehouse } from './warehouse.js';
import { takeReplayRequest } from './replay.js';

/** The consumer group of the warehouse loader. */
export const WAREHOUSE_GROUP = 'warehouse';

export interface WarehouseLoaderOptions {
  log: EventLog;
  warehouse: Warehouse;
  /** The warehouse schema of a source (Segment: one schema per source). */
  schemaOf(sourceId: string): Promise<string>;
  logger: Logger;
  signal: AbortSignal;
  /** Records per micro-batch; default 10,000. */
  maxRecords?: number;
  /** How long a batch waits to fill; default 1,000 ms, so rows are queryable within about a second. */
  maxWaitMs?: number;
  /** After each committed batch. */
  onBatch?(stats: LoadStats & { ms: number; lag: number; loadedUntil: Map<number, string> }): void;
  /** While the warehouse refuses or cannot be reached; the loader keeps retrying the same batch. */
  onError?(err: unknown, attempt: number): void;
  /** The event log's directory, where replay requests for this sink appear (see `replay.ts`). */
  logDir?: string;
}

/**
 * Loads the event log into the warehouse in micro-batches. A batch's offsets are committed only
 * after every table write of the batch has committed, and every write is idempotent by
 * messageId, so a crash or an outage anywhere in between makes the next attempt write the same
 * rows again without duplicates. While the warehouse is unreachable the loader retries the same
 * batch with capped backoff; ingestion is unaffected because the log holds the backlog.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const done = runWarehouseLoader({ log, warehouse, schemaOf, logger, signal: stop.signal });
 * ```
 */
export async function runWarehouseLoader(opts: WarehouseLoaderOptions): Promise<void> {
  const consumer = await opts.log.consumer(WAREHOUSE_GROUP, { start: 'earliest' });
  const writer = new TableWriter(opts.warehouse);
  try {
    while (!opts.signal.aborted) {
      const replay = opts.logDir === undefined ? undefined : takeReplayRequest(opts.logDir, WAREHOUSE_GROUP);
      if (replay) {
        for (const [partition, offset] of replay) consumer.seek(partition, offset);
        await consumer.commit(replay);
        writer.reset();
        opts.logger.info({ positions: Object.fromEntries(replay) }, 'warehouse replay: loading again from the requested positions');
      }
      const records = await consumer.poll({ maxRecords: opts.maxRecords ?? 10_000, maxWaitMs: opts.maxWaitMs ?? 1000, signal: opts.signal });
      if (records.length === 0) continue;
      // Per log partition, the receivedAt of the batch's last event: how far the warehouse is complete.
      const loadedUntil = new Map<number, string>();
      const bySchema = await groupBySchema(records, opts.schemaOf, loadedUntil);
      for (let attempt = 1; !opts.signal.aborted; attempt++) {
        const started = performance.now();
        try {
          const total: LoadStats = { events: 0, rows: 0, discards: 0, evolved: [] };
          const loadedAt = new Date();
          for (const [schema, events] of bySchema) {
            const s = await writer.load(schema, events, loadedAt);
            total.events += s.events;
            total.rows += s.rows;
            total.discards += s.discards;
            total.evolved.push(...s.evolved);
          }
          await consumer.commit();
          let lag = 0;
          for (const n of (await consumer.lag()).values()) lag += n;
          opts.onBatch?.({ ...total, ms: performance.now() - started, lag, loadedUntil });
          break;
        } catch (err) {
          // What the warehouse holds is unknown after a failed write: describe it again.
          writer.reset();
          opts.onError?.(err, attempt);
          const level = isRetriable(err) ? 'warn' : 'error';
          opts.logger[level]({ err, attempt }, 'warehouse load failed; retrying the same batch');
          await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)), opts.signal);
        }
      }
    }
  } finally {
    await consumer.close();
  }
}

async function groupBySchema(
  records: LogRecord[],
  schemaOf: (sourceId: string) => Promise<string>,
  loadedUntil: Map<number, string>,
): Promise<Map<string, Array<Record<string, unknown>>>> {
  const schemas = new Map<string, string>();
  const out = new Map<string, Array<Record<string, unknown>>>();
  for (const r of records) {
    const d = decodeLogRecord(r.value);
    if (d.kind !== 'event') continue;
    if (typeof d.event.receivedAt === 'string') loadedUntil.set(r.partition, d.event.receivedAt);
    let schema = schemas.get(d.sourceId);
    if (schema === undefined) schemas.set(d.sourceId, (schema = await schemaOf(d.sourceId)));
    let list = out.get(schema);
    if (!list) out.set(schema, (list = []));
    list.push(d.event);
  }
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
