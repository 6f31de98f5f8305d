/**
 * Where things live in the lake. Events are Hive-partitioned by source and by the UTC date and
 * hour they were received, so any engine can prune by `source`, `date` and `hour`:
 *
 *     source=<sourceId>/date=YYYY-MM-DD/hour=HH/p<partition>-<firstOffset>-<lastOffset>.parquet
 *
 * A file is named by the log offset range it holds (of one log partition), so writing the same
 * range again replaces the object instead of adding a second copy. Imported files keep their
 * original bytes under `uploads/`.
 *
 * @example
 * ```ts
 * eventFileKey({ sourceId: 'src_1', date: '2026-11-22', hour: '14' }, 0, 100, 199);
 * // 'source=src_1/date=2026-11-22/hour=14/p0-000000000100-000000000199.parquet'
 * ```
 */

export interface HivePartition {
  sourceId: string;
  /** YYYY-MM-DD (UTC). */
  date: string;
  /** HH (UTC). */
  hour: string;
}

const OFFSET_WIDTH = 12;

function pad(n: number): string {
  return String(n).padStart(OFFSET_WIDTH, '0');
}

export function sourcePrefix(sourceId: string): string {
  return `source=${sourceId}/`;
}

export function datePrefix(sourceId: string, date: string): string {
  return `source=${sourceId}/date=${date}/`;
}

export function eventFileKey(p: HivePartition, logPartition: number, first: number, last: number): string {
  return `source=${p.sourceId}/date=${p.date}/hour=${p.hour}/p${logPartition}-${pad(first)}-${pad(last)}.parquet`;
}

const EVENT_KEY = /^source=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/p(\d+)-(\d+)-(\d+)\.parquet$/;

/** The parts of an event file key, or undefined for any other key. */
export function parseEventFileKey(key: string): (HivePartition & { partition: number; first: number; last: number }) | undefined {
  const m = EVENT_KEY.exec(key);
  if (!m) return undefined;
  return { sourceId: m[1]!, date: m[2]!, hour: m[3]!, partition: Number(m[4]), first: Number(m[5]), last: Number(m[6]) };
}

/** The Hive partition of an ISO-8601 UTC receivedAt (`2026-11-22T14:03:00.000Z`). */
export function partitionOf(sourceId: string, receivedAt: string): HivePartition {
  return { sourceId, date: receivedAt.slice(0, 10), hour: receivedAt.slice(11, 13) };
}

export function uploadKey(sourceId: string, uploadId: string, fileName: string): string {
  const safe = fileName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-120) || 'upload';
  return `uploads/source=${sourceId}/${uploadId}-${safe}`;
}

export function uploadPrefix(sourceId: string): string {
  return `uploads/source=${sourceId}/`;
}
