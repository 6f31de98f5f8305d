/**
 * Partitions: the half-open time windows `[start, end)` a partitioned model's work is cut into,
 * in UTC. An unpartitioned model's one task has no window (`start` and `end` are null), which
 * counts as overlapping every window.
 */
import type { Grain } from './definitions/model.js';

export interface Partition {
  /** `2026-01-02` (daily), `2026-01-02T10` (hourly), `` (unpartitioned) or `full` (a full rebuild). */
  key: string;
  start: Date | null;
  end: Date | null;
}

export const GRAIN_MS: Readonly<Record<Exclude<Grain, 'none'>, number>> = { hourly: 3_600_000, daily: 86_400_000 };

/** The window of an unpartitioned model's task. */
export const WHOLE: Partition = Object.freeze({ key: '', start: null, end: null });

/** Where a full rebuild of an incremental model starts: before any event Weir can hold. */
export const FULL_START = new Date('1970-01-01T00:00:00.000Z');

function keyOf(grain: Exclude<Grain, 'none'>, start: Date): string {
  const iso = start.toISOString();
  return grain === 'daily' ? iso.slice(0, 10) : iso.slice(0, 13);
}

/**
 * The partition of `grain` that holds `time`.
 *
 * @example
 * ```ts
 * partitionOf('daily', new Date('2026-01-02T10:30:00Z')); // { key: '2026-01-02', start: 2026-01-02T00:00Z, end: 2026-01-03T00:00Z }
 * ```
 */
export function partitionOf(grain: Grain, time: Date): Partition {
  if (grain === 'none') return WHOLE;
  const size = GRAIN_MS[grain];
  const start = Math.floor(time.getTime() / size) * size;
  return { key: keyOf(grain, new Date(start)), start: new Date(start), end: new Date(start + size) };
}

/** The newest partition that has ended by `time` (its end ≤ time). */
export function lastCompletePartition(grain: Grain, time: Date): Partition {
  if (grain === 'none') return WHOLE;
  return partitionOf(grain, new Date(time.getTime() - GRAIN_MS[grain]));
}

/**
 * The partitions from the one holding `from` to the one holding `to`, both included, oldest
 * first; at most `limit` of them.
 *
 * @example
 * ```ts
 * partitionsBetween('daily', new Date('2026-01-01'), new Date('2026-01-03')).map((p) => p.key);
 * // ['2026-01-01', '2026-01-02', '2026-01-03']
 * ```
 */
export function partitionsBetween(grain: Grain, from: Date, to: Date, limit = 100_000): Partition[] {
  if (grain === 'none') return [WHOLE];
  const out: Partition[] = [];
  const last = partitionOf(grain, to).start!.getTime();
  for (let p = partitionOf(grain, from); p.start!.getTime() <= last && out.length < limit; p = partitionOf(grain, p.end!)) out.push(p);
  return out;
}

/** The window of a full rebuild of an incremental model: everything up to the end of the current partition. */
export function fullPartition(grain: Grain, now: Date): Partition {
  return { key: 'full', start: FULL_START, end: partitionOf(grain, now).end ?? now };
}

/** True when the windows share any instant; a missing bound is unbounded. */
export function overlaps(a: Pick<Partition, 'start' | 'end'>, b: Pick<Partition, 'start' | 'end'>): boolean {
  const aStart = a.start?.getTime() ?? -Infinity;
  const aEnd = a.end?.getTime() ?? Infinity;
  const bStart = b.start?.getTime() ?? -Infinity;
  const bEnd = b.end?.getTime() ?? Infinity;
  return aStart < bEnd && bStart < aEnd;
}
