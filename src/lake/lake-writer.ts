/**
 * The lake writer: consumes the event log and writes raw events as Parquet into the lake's
 * BlobStore, Hive-partitioned by source, date and hour (see `lake-layout.ts`).
 *
 * One open file per (log partition, source, date, hour). A file is cut when its estimated size
 * reaches `maxFileBytes` or its age `maxFileAgeMs`, and on drain. Exactly once, across crashes:
 * - each cut is first *planned* in the metadata store (key, log partition, first and last
 *   offset), then written and uploaded (an object becomes visible only when complete), then
 *   marked stored;
 * - the consumer's committed offset of a partition only passes a record once the file holding it
 *   is stored (it is the first offset of the oldest open file of that partition);
 * - after a restart the writer reads again from the committed offset and follows the plans: a
 *   planned file is cut again at exactly its recorded last offset, so it gets the same name and
 *   the upload replaces the object; records of a stored file that began before the committed
 *   offset are skipped.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * await runLakeWriter({ log, blob, state, logger, signal: stop.signal, workspaceOf });
 * ```
 */
import { mkdtempSync, rmSync, statSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobStore } from '../blob/blob-store.js';
import { decodeLogRecord } from '../events/log-record.js';
import { isTransient } from '../consumers/retry.js';
import type { EventLog, LogRecord } from '../log/event-log.js';
import type { Logger } from '../observability/logger.js';
import type { LakeFile, StateStore } from '../state/state-store.js';
import { eventFileKey, partitionOf, type HivePartition } from './lake-layout.js';
import { ParquetWriter, type LakeEvent } from './parquet-writer.js';

/** The consumer group of the lake writer. */
export const LAKE_GROUP = 'lake';

export interface LakeWriterOptions {
  log: EventLog;
  blob: BlobStore;
  state: Pick<StateStore, 'putLakeFile' | 'listLakeFiles'>;
  /** The workspace of a source (for quotas and listings). */
  workspaceOf(sourceId: string): Promise<string>;
  logger: Logger;
  signal: AbortSignal;
  /** Cut a file once its estimated Parquet size reaches this; default 64 MiB. */
  maxFileBytes?: number;
  /** Cut a file once it has been open this long; default 5 minutes. */
  maxFileAgeMs?: number;
  /** Records per poll; default 5,000. */
  pollRecords?: number;
  /** Called after each stored file. */
  onFile?(file: LakeFile & { ms: number }): void;
  /** Called when a write or upload fails (it is retried). */
  onError?(err: unknown, attempt: number): void;
  /** Called when a poll finds nothing new (the writer has read everything durable). */
  onIdle?(): void;
}

interface OpenFile {
  logPartition: number;
  hive: HivePartition;
  key: string;
  table: string;
  first: number;
  last: number;
  events: number;
  rawBytes: number;
  openedAt: number;
  pending: LakeEvent[];
  /** Set when a plan from before a restart fixes where this file ends. */
  plannedLast?: number;
}

/** A plan left by an earlier run, by (partition, source/date/hour). */
interface Plan {
  first: number;
  last: number;
  stored: boolean;
}

// Parquet with zstd is typically 5–15× smaller than the JSON records; the estimate starts at
// the cautious end and learns from every file written.
const INITIAL_RATIO = 0.2;
/** Rows buffered in JavaScript per file before they go to DuckDB (one vector). */
const APPEND_ROWS = 2048;

function hiveId(h: HivePartition): string {
  return `${h.sourceId}/${h.date}/${h.hour}`;
}

export async function runLakeWriter(opts: LakeWriterOptions): Promise<void> {
  const maxBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
  const maxAge = opts.maxFileAgeMs ?? 5 * 60_000;
  const consumer = await opts.log.consumer(LAKE_GROUP, { start: 'earliest' });
  const parquet = await ParquetWriter.open();
  const tmp = mkdtempSync(join(tmpdir(), 'weir-lake-'));
  const open = new Map<string, OpenFile>();
  // Where the next unread record of each partition is: what is committed when nothing is open.
  const next = new Map<number, number>();
  let ratio = INITIAL_RATIO;

  const committed = (await opts.log.groups()).get(LAKE_GROUP) ?? new Map<number, number>();
  const plans = await loadPlans(opts.state, committed);
  const workspaces = new Map<string, string>();
  const workspaceOf = async (sourceId: string) => {
    let w = workspaces.get(sourceId);
    if (w === undefined) workspaces.set(sourceId, (w = await opts.workspaceOf(sourceId)));
    return w;
  };

  const cut = async (f: OpenFile) => {
    const started = performance.now();
    await flushPending(f);
    const workspaceId = await workspaceOf(f.hive.sourceId);
    const base = {
      key: f.key,
      sourceId: f.hive.sourceId,
      workspaceId,
      kind: 'events' as const,
      date: f.hive.date,
      partition: f.logPartition,
      firstOffset: f.first,
      lastOffset: f.last,
      events: f.events,
      createdAt: new Date(),
    };
    await retry(opts, () => opts.state.putLakeFile({ ...base, bytes: 0, state: 'planned' }));
    const path = join(tmp, `${f.table}.parquet`);
    await parquet.writeFile(f.table, path);
    const bytes = statSync(path).size;
    await retry(opts, () => opts.blob.put(f.key, createReadStream(path), { contentType: 'application/vnd.apache.parquet' }));
    rmSync(path, { force: true });
    const stored = { ...base, bytes, state: 'stored' as const };
    await retry(opts, () => opts.state.putLakeFile(stored));
    if (f.rawBytes > 0) ratio = Math.max(0.01, Math.min(1, bytes / f.rawBytes));
    open.delete(`${f.logPartition}:${hiveId(f.hive)}`);
    opts.onFile?.({ ...stored, ms: performance.now() - started });
  };

  const flushPending = async (f: OpenFile) => {
    if (f.pending.length === 0) return;
    const rows = f.pending;
    f.pending = [];
    await parquet.append(f.table, rows);
  };

  const commit = async () => {
    const positions = new Map(next);
    for (const f of open.values()) {
      const p = positions.get(f.logPartition);
      if (p === undefined || f.first < p) positions.set(f.logPartition, f.first);
    }
    if (positions.size > 0) await retry(opts, () => consumer.commit(positions));
  };

  const place = async (r: LogRecord) => {
    next.set(r.partition, r.offset + 1);
    const d = decodeLogRecord(r.value);
    if (d.kind !== 'event') return;
    const receivedAt = typeof d.event.receivedAt === 'string' ? d.event.receivedAt : new Date().toISOString();
    const hive = partitionOf(d.sourceId, receivedAt);
    const id = `${r.partition}:${hiveId(hive)}`;
    const plan = plans.get(id);
    // Already stored by a file that began before the committed offset: skip.
    if (plan?.some((p) => p.stored && p.first < (committed.get(r.partition) ?? 0) && r.offset <= p.last)) return;
    let f = open.get(id);
    if (f === undefined) {
      f = {
        logPartition: r.partition,
        hive,
        key: '',
        table: await parquet.create(),
        first: r.offset,
        last: r.offset,
        events: 0,
        rawBytes: 0,
        openedAt: Date.now(),
        pending: [],
      };
      const fixed = plan?.find((p) => p.first === r.offset);
      if (fixed) f.plannedLast = fixed.last;
      open.set(id, f);
    }
    f.pending.push({ event: d.event, partition: r.partition, offset: r.offset });
    f.last = r.offset;
    f.events++;
    f.rawBytes += r.value.length;
    // A planned file ends exactly where its plan says; any other is cut once it is big enough.
    const full = f.plannedLast !== undefined ? r.offset >= f.plannedLast : f.rawBytes * ratio >= maxBytes;
    if (full) {
      f.key = eventFileKey(hive, r.partition, f.first, f.last);
      await cut(f);
    }
  };

  try {
    while (!opts.signal.aborted) {
      const records = await consumer.poll({ maxRecords: opts.pollRecords ?? 5000, maxWaitMs: 1000, signal: opts.signal });
      if (records.length === 0) opts.onIdle?.();
      for (const r of records) await place(r);
      const now = Date.now();
      let cutAny = false;
      for (const f of [...open.values()]) {
        // Appending in vector-sized chunks: an appender per handful of rows cost more than the rows.
        if (f.pending.length >= APPEND_ROWS) await flushPending(f);
        if (f.plannedLast !== undefined) continue;
        if (now - f.openedAt >= maxAge) {
          f.key = eventFileKey(f.hive, f.logPartition, f.first, f.last);
          await cut(f);
          cutAny = true;
        }
      }
      if (cutAny || (records.length > 0 && open.size === 0)) await commit();
    }
    // Drain: every open file is cut and uploaded before the process exits. A file fixed by a
    // plan is cut at its planned end only, so a drain after a restart never renames one.
    for (const f of [...open.values()]) {
      if (f.plannedLast !== undefined && f.last < f.plannedLast) continue;
      f.key = eventFileKey(f.hive, f.logPartition, f.first, f.last);
      await cut(f);
    }
    await commit();
  } finally {
    await consumer.close();
    parquet.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function loadPlans(
  state: LakeWriterOptions['state'],
  committed: Map<number, number>,
): Promise<Map<string, Plan[]>> {
  const plans = new Map<string, Plan[]>();
  for (const [partition, offset] of committed) {
    for (const f of await state.listLakeFiles({ kind: 'events', partition, minLastOffset: offset })) {
      const m = /^source=([^/]+)\/date=([^/]+)\/hour=([^/]+)\//.exec(f.key);
      if (!m) continue;
      const id = `${partition}:${m[1]}/${m[2]}/${m[3]}`;
      let list = plans.get(id);
      if (!list) plans.set(id, (list = []));
      list.push({ first: f.firstOffset, last: f.lastOffset, stored: f.state === 'stored' });
    }
  }
  return plans;
}

/** Retries transient failures (blob store down, metadata store busy) with capped backoff. */
async function retry<T>(opts: LakeWriterOptions, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || attempt >= 1000) throw err;
      opts.onError?.(err, attempt);
      opts.logger.warn({ err, attempt }, 'lake write failed; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
    }
  }
}

