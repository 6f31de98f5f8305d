import { WeirError } from '../errors/catalogue.js';
import type { Source } from '../state/state-store.js';

/** A rate in events per second and the burst a full bucket allows. */
export interface RateLimit {
  eventsPerSecond: number;
  burst: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Where per-key rate limits are counted. In-process token buckets today; a shared store (Redis)
 * for collectors on several machines can implement the same call.
 */
export interface RateLimiter {
  /** Takes `events` tokens from `key`'s bucket, or says how long until they are there. */
  take(key: string, events: number, limit: RateLimit): RateDecision;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets in memory, one per key. A bucket holds up to `burst` tokens and refills at
 * `eventsPerSecond`. A request of n events needs min(n, burst) tokens and takes n, so a batch
 * larger than the burst is admitted from a full bucket and leaves a debt that later requests pay:
 * over time no key gets more than its rate.
 *
 * Keys are source ids resolved from valid write keys, so the map is bounded by the sources.
 *
 * @example
 * ```ts
 * const limiter = new TokenBucketLimiter();
 * limiter.take('src_1', 20, { eventsPerSecond: 100, burst: 200 }); // { ok: true }
 * ```
 */
export class TokenBucketLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** `now` in milliseconds; tests pass a fake clock. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  take(key: string, events: number, limit: RateLimit): RateDecision {
    const now = this.now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: limit.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.eventsPerSecond);
      bucket.at = now;
    }
    const need = Math.min(events, limit.burst);
    if (bucket.tokens >= need) {
      bucket.tokens -= events;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((need - bucket.tokens) / limit.eventsPerSecond)) };
  }
}

export interface SourceRateLimitsOptions {
  /** Server-wide default events per second per write key; 0: no limit. */
  eventsPerSecond: number;
  /** Server-wide default burst; 0: one second's worth of events. */
  burst: number;
  /**
   * This process's share of every limit: `weir up` runs one collector per core on one port, and
   * each enforces limit × share, so the whole server never admits more than the limit.
   */
  share?: number;
  limiter?: RateLimiter;
}

/**
 * The collector's per-write-key rate limits: the server defaults (`limits.rateLimitEventsPerSecond`,
 * `limits.rateLimitBurst`), overridden per source by its settings (`rateLimitEventsPerSecond`,
 * `rateLimitBurst`; 0 turns the limit off for that source).
 *
 * With several collector processes each takes `share` (1 / processes) of every limit. That holds
 * the limit for the whole server exactly as an upper bound; a client whose requests all reach
 * one process (one keep-alive connection: node:cluster balances connections, not requests) is
 * held to its share of it, and a client spread evenly over all of them gets the full limit.
 *
 * @example
 * ```ts
 * const limits = new SourceRateLimits({ eventsPerSecond: 1000, burst: 0, share: 1 / 2 });
 * limits.check(source, 20); // throws WEIR_INGEST_RATE_LIMITED (429) over the limit
 * ```
 */
export class SourceRateLimits {
  readonly #limiter: RateLimiter;
  readonly #share: number;

  constructor(private readonly options: SourceRateLimitsOptions) {
    this.#limiter = options.limiter ?? new TokenBucketLimiter();
    this.#share = options.share ?? 1;
  }

  /** Throws `WEIR_INGEST_RATE_LIMITED` when `source` may not send `events` more events now. */
  check(source: Pick<Source, 'id' | 'settings'>, events: number): void {
    const own = source.settings.rateLimitEventsPerSecond;
    const rate = own ?? this.options.eventsPerSecond;
    if (rate <= 0) return;
    // A source with a rate of its own gets one second of it as burst unless it says otherwise.
    const burst = source.settings.rateLimitBurst ?? ((own === null && this.options.burst) || rate);
    const limit = { eventsPerSecond: rate * this.#share, burst: Math.max(1, burst * this.#share) };
    const decision = this.#limiter.take(source.id, events, limit);
    if (!decision.ok) throw new WeirError('WEIR_INGEST_RATE_LIMITED', { source: source.id, rate, burst, retryAfter: decision.retryAfterSeconds });
  }
}
