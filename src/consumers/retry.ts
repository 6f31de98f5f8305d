import { isRetriable } from '../errors/catalogue.js';

/**
 * True for errors a consumer outlives by starting again from its saved position: retriable
 * Weir errors, and SQLite's busy answers when another process holds the metadata write lock
 * longer than the busy timeout.
 */
export function isTransient(err: unknown): boolean {
  return isRetriable(err) || (err instanceof Error && /SQLITE_BUSY|database is locked/i.test(err.message));
}

/** Total records behind, from a consumer's per-partition lag. */
export function totalLag(lag: Map<number, number>): number {
  let n = 0;
  for (const v of lag.values()) n += v;
  return n;
}

/**
 * Waits before retry number `attempt` (100 ms doubling up to 5 s), or less when `signal` aborts.
 *
 * @example
 * ```ts
 * for (let attempt = 1; ; attempt++) { try { return await op(); } catch (err) { if (!isTransient(err)) throw err; await backoff(attempt, signal); } }
 * ```
 */
export function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
