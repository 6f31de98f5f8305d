import { WeirError } from '../errors/catalogue.js';
import type { Logger } from '../observability/logger.js';
import type { StateStore } from '../state/state-store.js';
import type { EventFlags } from './ingest.js';

/**
 * Retry-After never says more than an hour, although a refused workspace may have to wait until
 * the month ends: a client that slept for weeks would not notice that an admin raised the quota.
 */
export const MAX_RETRY_AFTER_SECONDS = 3600;

const OVER_QUOTA: EventFlags = Object.freeze({ overQuota: true as const });

interface Entry {
  name: string;
  quota: number;
  mode: 'refuse' | 'flag';
  /**
   * Events of the workspace accepted this month as far as this process knows: the metered count
   * at the last refresh plus what this process accepted since. Never more than the truth.
   */
  count: number;
}

export interface MonthlyQuotaOptions {
  /** How often quotas and metered counts are read again from the metadata store. */
  refreshMs: number;
  logger?: Pick<Logger, 'warn'>;
  /** Milliseconds since the epoch; tests pass a fixed clock. */
  now?: () => number;
}

/** The UTC calendar month holding `ms`, as [start, end) in milliseconds. */
export function utcMonth(ms: number): { start: number; end: number } {
  const d = new Date(ms);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/**
 * The monthly event quota of each workspace, as the collector checks it on every request: a Map
 * lookup against counts held in memory, never a metadata read per request. Every `refreshMs` it
 * reads each workspace's settings and its metered accepted events this month (the usage meter's
 * counts); between refreshes it adds what this process accepted.
 *
 * The check is approximate by design and errs towards accepting: the meter trails the log and
 * other collector processes are seen only through it, so a workspace may go over its quota by
 * what all collectors accept in about one refresh period plus the meter's lag. A request is
 * refused (or flagged) only once the count has reached the quota, so the request that crosses
 * the quota is accepted whole.
 *
 * @example
 * ```ts
 * const quota = new MonthlyQuota(state, { refreshMs: 5000 });
 * await quota.start();
 * const flags = quota.check(source.workspaceId); // throws WEIR_QUOTA_EXCEEDED in refuse mode
 * // ... process and append the request with `flags`, then:
 * quota.record(source.workspaceId, outcome.accepted);
 * ```
 */
export class MonthlyQuota {
  readonly #state: Pick<StateStore, 'listWorkspaces' | 'acceptedSince'>;
  readonly #options: MonthlyQuotaOptions;
  readonly #now: () => number;
  /** Only workspaces that have a quota: the rest cost one failed lookup per request. */
  readonly #entries = new Map<string, Entry>();
  #month = { start: 0, end: 0 };
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(state: Pick<StateStore, 'listWorkspaces' | 'acceptedSince'>, options: MonthlyQuotaOptions) {
    this.#state = state;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Reads the quotas once, then keeps them fresh in the background. */
  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.#options.logger?.warn({ err }, 'quota refresh failed; keeping the last counts'));
    }, this.#options.refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads every workspace's quota and its metered count for the current month. */
  refresh(): Promise<void> {
    // A slow metadata store must not stack refreshes up.
    this.#refreshing ??= this.#refreshNow().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshNow(): Promise<void> {
    const month = utcMonth(this.#now());
    const sameMonth = month.start === this.#month.start;
    this.#month = month;
    const seen = new Set<string>();
    for (const ws of await this.#state.listWorkspaces()) {
      const { monthlyEventQuota: quota, quotaMode: mode } = ws.settings;
      if (quota === null) continue;
      seen.add(ws.id);
      const metered = await this.#state.acceptedSince(ws.id, new Date(month.start));
      // Read after the await: what `record` added meanwhile stays counted. The larger of the two
      // is kept because the meter may not yet have counted what this process accepted.
      const entry = this.#entries.get(ws.id);
      const known = sameMonth && entry !== undefined ? entry.count : 0;
      this.#entries.set(ws.id, { name: ws.name, quota, mode, count: Math.max(metered, known) });
    }
    for (const id of this.#entries.keys()) if (!seen.has(id)) this.#entries.delete(id);
  }

  /**
   * Per request, before its items are processed: `undefined` within quota, the flags to set on
   * every event when over quota in `flag` mode. Over quota in `refuse` mode it throws
   * `WEIR_QUOTA_EXCEEDED` (429) whose `retryAfter` is the seconds until the month ends, at most
   * {@link MAX_RETRY_AFTER_SECONDS}.
   */
  check(workspaceId: string): EventFlags | undefined {
    const entry = this.#entries.get(workspaceId);
    if (entry === undefined || entry.count < entry.quota) return undefined;
    const now = this.#now();
    // A new month began since the last refresh: its count is not known yet, so accept.
    if (now >= this.#month.end) return undefined;
    if (entry.mode === 'flag') return OVER_QUOTA;
    throw new WeirError('WEIR_QUOTA_EXCEEDED', {
      workspace: entry.name,
      quota: entry.quota,
      retryAfter: Math.max(1, Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil((this.#month.end - now) / 1000))),
    });
  }

  /** Counts events this process accepted for a workspace. */
  record(workspaceId: string, accepted: number): void {
    const entry = this.#entries.get(workspaceId);
    if (entry !== undefined) entry.count += accepted;
  }
}
