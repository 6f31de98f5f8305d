import type { StateStore, UsageRow } from '../state/state-store.js';

/** The periods usage can be rolled up to; all UTC. */
export const USAGE_PERIODS = ['hour', 'day', 'month'] as const;
export type UsagePeriod = (typeof USAGE_PERIODS)[number];

/** Usage of one source in one period, as `weir usage` and `GET /api/usage` show it. */
export interface UsageReportRow {
  /** `2026-11-22T14:00:00.000Z` (hour), `2026-11-22` (day) or `2026-11` (month). */
  period: string;
  sourceId: string;
  /** The source's name, or its id when it is not in the metadata store. */
  source: string;
  workspaceId: string;
  accepted: number;
  failed: number;
  /** Stored record bytes in the event logs. */
  bytes: number;
}

export interface UsageQuery {
  sourceId?: string;
  workspaceId?: string;
  /** Hours starting at or after this time. */
  since?: Date;
  /** Hours starting before this time. */
  until?: Date;
  /** Default `hour`. */
  by?: UsagePeriod;
}

/** The label of the period holding an hour. */
export function periodOf(hour: Date, by: UsagePeriod): string {
  const iso = hour.toISOString();
  return by === 'hour' ? iso : by === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

/**
 * Sums hourly usage rows per period and source, ordered by period, then source id.
 *
 * @example
 * ```ts
 * rollUp(await state.listUsage({}), 'day', names);
 * // [{ period: '2026-11-22', sourceId: 'src_1', source: 'web', accepted: 1200, failed: 3, bytes: 410233, ... }]
 * ```
 */
export function rollUp(rows: UsageRow[], by: UsagePeriod, names: ReadonlyMap<string, string> = new Map()): UsageReportRow[] {
  const out = new Map<string, UsageReportRow>();
  for (const r of rows) {
    const period = periodOf(r.hour, by);
    const key = `${period}\u0000${r.sourceId}`;
    let row = out.get(key);
    if (row === undefined) {
      const source = names.get(r.sourceId) ?? r.sourceId;
      out.set(key, (row = { period, sourceId: r.sourceId, source, workspaceId: r.workspaceId, accepted: 0, failed: 0, bytes: 0 }));
    }
    row.accepted += r.accepted;
    row.failed += r.failed;
    row.bytes += r.bytes;
  }
  return [...out.values()].sort((a, b) => compare(a.period, b.period) || compare(a.sourceId, b.sourceId));
}

/**
 * The usage report both the CLI and the API serve: metered usage filtered and rolled up.
 *
 * @example
 * ```ts
 * await usageReport(state, { sourceId: 'src_1', since: new Date('2026-11-01'), by: 'day' });
 * ```
 */
export async function usageReport(state: Pick<StateStore, 'listUsage' | 'listSources'>, q: UsageQuery): Promise<UsageReportRow[]> {
  const rows = await state.listUsage({ sourceId: q.sourceId, workspaceId: q.workspaceId, since: q.since, until: q.until });
  const names = new Map((await state.listSources()).map((s) => [s.id, s.name]));
  return rollUp(rows, q.by ?? 'hour', names);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
