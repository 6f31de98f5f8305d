import type { ColumnSpec, Value } from './warehouse.js';

/**
 * Keeps the last row of each key, in first-seen key order: the port's rule for duplicates
 * within one write, and what engines with `ON CONFLICT` need (a statement may not touch the
 * same row twice).
 *
 * @example
 * ```ts
 * lastByKey([['a', 1], ['b', 2], ['a', 3]], 0); // [['a', 3], ['b', 2]]
 * ```
 */
export function lastByKey(rows: Value[][], keyIndex: number): Value[][] {
  const byKey = new Map<Value, Value[]>();
  for (const row of rows) {
    const key = row[keyIndex] ?? null;
    // Re-inserting moves nothing: Map keeps first insertion order, the value is replaced.
    byKey.set(key, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

/** Index of the key column, or a clear error when the caller forgot to list it. */
export function keyIndexOf(columns: ColumnSpec[], key: string): number {
  const i = columns.findIndex((c) => c.name === key);
  if (i === -1) throw new Error(`write: the key column ${key} is not among the columns written`);
  return i;
}
