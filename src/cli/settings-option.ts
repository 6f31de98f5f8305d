import { WeirError } from '../errors/catalogue.js';
import { settingValue } from '../state/settings.js';
import { invalidOption } from './context.js';

/** Commander's collector for a repeatable `--set key=value`. */
export function collectSet(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Turns `--set key=value` options into settings changes, checking each one on its own with
 * `check` (which throws the store's `WEIR_API_INVALID_REQUEST` for a bad path or value), so a
 * refusal names the very option and value at fault and exits 2.
 *
 * @example
 * ```ts
 * const changes = settingChanges(['monthlyEventQuota=1000', 'quotaMode=flag'], (c) => patchWorkspaceSettings(ws.settings, c));
 * // { monthlyEventQuota: 1000, quotaMode: 'flag' }
 * ```
 */
export function settingChanges(sets: string[], check: (changes: Record<string, unknown>) => unknown): Record<string, unknown> {
  if (sets.length === 0) throw invalidOption('--set', '', 'give at least one --set key=value');
  const changes: Record<string, unknown> = {};
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq < 1) throw invalidOption('--set', set, 'key=value, e.g. monthlyEventQuota=1000000');
    const change = { [set.slice(0, eq)]: settingValue(set.slice(eq + 1)) };
    try {
      check(change);
    } catch (err) {
      if (err instanceof WeirError && err.code === 'WEIR_API_INVALID_REQUEST') throw invalidOption('--set', set, err.message);
      throw err;
    }
    Object.assign(changes, change);
  }
  return changes;
}
