import type { DashboardReferrerClass } from '../enrich/referrer.js';
import { REFERRER_CLASSES, type LiveSnapshot } from './realtime-store.js';

/**
 * The parts of a {@link LiveSnapshot} every adapter finishes the same way, whatever it counted
 * with: so ordering, rounding and the minute series cannot drift apart between adapters.
 *
 * @example
 * ```ts
 * const pages = rankPages([{ path: '/a', title: 'A', url: 'https://x/a', visitors: 2, engaged: 1 }], 10);
 * const minutes = minuteSeries(Date.now(), 30, (at) => counts.get(at) ?? { events: 0, engagedSeconds: 0 });
 * ```
 */
export type LivePage = LiveSnapshot['pages'][number];

export const MINUTE_MS = 60_000;

/** Pages by visitors, then engaged visitors, then path; the first `top` of them. */
export function rankPages(pages: Iterable<LivePage>, top: number): LivePage[] {
  return [...pages]
    .sort((a, b) => b.visitors - a.visitors || b.engaged - a.engaged || (a.path < b.path ? -1 : 1))
    .slice(0, top)
    .map(({ path, title, url, visitors, engaged }) => ({ path, title, url, visitors, engaged }));
}

/** Every referrer class at 0. */
export function zeroReferrers(): Record<DashboardReferrerClass, number> {
  return Object.fromEntries(REFERRER_CLASSES.map((c) => [c, 0])) as Record<DashboardReferrerClass, number>;
}

/** Mean engaged seconds, to one decimal; 0 without visitors. */
export function averageSeconds(sum: number, visitors: number): number {
  return visitors === 0 ? 0 : Math.round((sum / visitors) * 10) / 10;
}

/** The last `count` UTC minutes up to `now`, oldest first, with the counts `of` gives for each minute's start. */
export function minuteSeries(now: number, count: number, of: (minuteStart: number) => { events: number; engagedSeconds: number }): LiveSnapshot['minutes'] {
  const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const minutes: LiveSnapshot['minutes'] = [];
  for (let i = count - 1; i >= 0; i--) {
    const at = current - i * MINUTE_MS;
    minutes.push({ at: new Date(at).toISOString(), ...of(at) });
  }
  return minutes;
}
