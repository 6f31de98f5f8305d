const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration of the header (`500ms`, `30s`, `10m`, `2h`, `1d`; a bare number is seconds) in
 * milliseconds, or undefined when the text is not one.
 *
 * @example
 * ```ts
 * parseDuration('10m'); // 600000
 * parseDuration(90);    // 90000
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!m?.[1] || !m[2]) return undefined;
  return Number(m[1]) * (UNIT_MS[m[2]] ?? Number.NaN);
}

/**
 * A duration for people: the largest unit that divides it.
 *
 * @example
 * ```ts
 * formatDuration(5_400_000); // '90m'
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * An approximate duration for people, in its largest unit with one decimal.
 *
 * @example
 * ```ts
 * humanDuration(5_400_000); // '1.5h'
 * ```
 */
export function humanDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size) return `${Number((ms / size).toFixed(1))}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}
