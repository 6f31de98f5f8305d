import type { Source, StateStore } from '../state/state-store.js';

/**
 * Resolves write keys to sources with a cache, so the ingest hot path does not touch the
 * metadata store per request. Unknown keys are cached briefly too: a client hammering with a bad
 * key must not turn into a database query per request, while a source created a moment ago (by
 * `weir sources create` in another process) is found within `negativeTtlMs`. Known sources are
 * looked up again in the background every `refreshMs`, so a change of a source's settings
 * (`weir sources update`) reaches every collector within seconds without slowing a request.
 *
 * @example
 * ```ts
 * const keys = new WriteKeyCache(state);
 * const source = await keys.resolve('abc123'); // Source | undefined
 * ```
 */
export class WriteKeyCache {
  private readonly known = new Map<string, { source: Source; fetchedAt: number }>();
  private readonly unknown = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Source | undefined>>();

  constructor(
    private readonly state: Pick<StateStore, 'sourceByWriteKey'>,
    private readonly negativeTtlMs = 2000,
    private readonly maxUnknown = 10000,
    private readonly refreshMs = 5000,
  ) {}

  resolve(writeKey: string): Source | undefined | Promise<Source | undefined> {
    const hit = this.known.get(writeKey);
    if (hit !== undefined) {
      if (Date.now() - hit.fetchedAt > this.refreshMs && !this.inflight.has(writeKey)) {
        // Stale: answer with what is known, and refresh for the next request.
        hit.fetchedAt = Date.now();
        const p = this.lookup(writeKey);
        this.inflight.set(writeKey, p);
        p.catch(() => undefined);
      }
      return hit.source;
    }
    const until = this.unknown.get(writeKey);
    if (until !== undefined && until > Date.now()) return undefined;
    let p = this.inflight.get(writeKey);
    if (p === undefined) {
      p = this.lookup(writeKey);
      this.inflight.set(writeKey, p);
    }
    return p;
  }

  private async lookup(writeKey: string): Promise<Source | undefined> {
    try {
      const source = await this.state.sourceByWriteKey(writeKey);
      if (source) {
        this.known.set(writeKey, { source, fetchedAt: Date.now() });
        this.unknown.delete(writeKey);
      } else {
        // A deleted key stops working at the next refresh.
        this.known.delete(writeKey);
        if (this.unknown.size >= this.maxUnknown) this.unknown.clear();
        this.unknown.set(writeKey, Date.now() + this.negativeTtlMs);
      }
      return source;
    } finally {
      this.inflight.delete(writeKey);
    }
  }
}
