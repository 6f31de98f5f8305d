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
