import { loadavg } from 'node:os';

/**
 * The reliability suite's size: CI runs sizes that fit its time budget; `WEIR_RELIABILITY_FULL=1`
 * runs the larger ones (more kills, more power losses, a 10-minute soak).
 */
export const FULL = process.env.WEIR_RELIABILITY_FULL === '1';

/**
 * Prints a measured figure as one line (`reliability <name> {json}`), with the machine's load
 * average beside it: the suite runs on shared machines, and a figure without its load misleads.
 *
 * @example
 * ```ts
 * report('soak', { p99Ms: 42 }); // reliability soak {"p99Ms":42,"load1":1.2}
 * ```
 */
export function report(name: string, figures: Record<string, unknown>): void {
  const [load1, load5] = loadavg().map((l) => Math.round(l * 100) / 100);
  process.stdout.write(`reliability ${name} ${JSON.stringify({ ...figures, load1, load5 })}\n`);
}
