/**
 * Data-quality checks as read-only queries: each counts what breaks it (or reads the newest
 * timestamp, for freshness), so the answer is one number whatever the table's size. On an
 * incremental model a check looks at the partition the task built, elsewhere at the whole
 * relation.
 */
import type { CheckSpec } from '../definitions/model.js';
import type { NewCheckResult } from '../store/types.js';
import type { SqlDialect } from './dialect.js';
import type { Target, Window } from './materialize.js';
import { formatDuration, humanDuration } from '../definitions/durations.js';

export interface CheckQuery {
  check: CheckSpec;
  sql: string;
  /** The check's result from the first cell of the query's answer. */
  evaluate(value: unknown): NewCheckResult;
}

export interface CheckScope {
  target: Target;
  /** The partition column and window of an incremental model's task; absent: the whole relation. */
  partition?: { column: string; window: Window };
  /** What freshness is measured against when there is no partition. */
  now: Date;
}

/**
 * The query of each check.
 *
 * @example
 * ```ts
 * const queries = checkQueries(dialectOf('duckdb'), model.checks, { target, now: new Date() }, (t) => render(t));
 * ```
 */
export function checkQueries(d: SqlDialect, checks: CheckSpec[], scope: CheckScope, renderSql: (check: CheckSpec & { kind: 'sql' }) => string): CheckQuery[] {
  const from = d.table(scope.target.schema, scope.target.table);
  const p = scope.partition;
  const partitionFilter = p ? `${d.ident(p.column)} >= ${d.timestamp(p.window.start)} and ${d.ident(p.column)} < ${d.timestamp(p.window.end)}` : undefined;
  const where = (...conditions: string[]) => {
    const all = [...(partitionFilter ? [partitionFilter] : []), ...conditions];
    return all.length === 0 ? '' : ` where ${all.join(' and ')}`;
  };
  return checks.map((check) => {
    const base = { check: check.name, kind: check.kind, severity: check.severity };
    const counting = (sql: string, describe: (n: number) => string): CheckQuery => ({
      check,
      sql,
      evaluate(value) {
        const n = Number(value);
        return { ...base, query: sql, status: n === 0 ? 'pass' : 'fail', failing: n, detail: n === 0 ? null : describe(n) };
      },
    });
    switch (check.kind) {
      case 'not_null':
        return counting(`select count(*) from ${from}${where(`${d.ident(check.column)} is null`)}`, (n) => `${n} row(s) with ${check.column} null`);
      case 'unique': {
        const cols = check.columns.map((c) => d.ident(c)).join(', ');
        return counting(
          `select count(*) from (select ${cols} from ${from}${where()} group by ${cols} having count(*) > 1) as weir_duplicates`,
          (n) => `${n} value(s) of (${check.columns.join(', ')}) appear more than once`,
        );
      }
      case 'accepted_values': {
        const list = check.values.map((v) => d.literal(v)).join(', ');
        return counting(
          `select count(*) from ${from}${where(`${d.ident(check.column)} is not null`, `${d.ident(check.column)} not in (${list})`)}`,
          (n) => `${n} row(s) with ${check.column} outside ${JSON.stringify(check.values)}`,
        );
      }
      case 'row_count': {
        const sql = `select count(*) from ${from}${where()}`;
        return {
          check,
          sql,
          evaluate(value) {
            const n = Number(value);
            const low = check.min !== undefined && n < check.min;
            const high = check.max !== undefined && n > check.max;
            const range = [check.min !== undefined ? `at least ${check.min}` : '', check.max !== undefined ? `at most ${check.max}` : ''].filter(Boolean).join(' and ');
            return { ...base, query: sql, status: low || high ? 'fail' : 'pass', failing: n, detail: low || high ? `${n} row(s), expected ${range}` : null };
          },
        };
      }
      case 'freshness': {
        const sql = `select max(${d.ident(check.column)}) from ${from}${where()}`;
        const reference = p ? new Date(Math.min(p.window.end.getTime(), scope.now.getTime())) : scope.now;
        return {
          check,
          sql,
          evaluate(value) {
            const newest = value === null || value === undefined ? Number.NaN : Date.parse(String(value));
            const age = reference.getTime() - newest;
            const fresh = Number.isFinite(age) && age <= check.maxAgeMs;
            const detail = Number.isNaN(newest)
              ? `no ${check.column} at all`
              : `the newest ${check.column} (${new Date(newest).toISOString()}) is ${humanDuration(Math.max(0, age))} older than ${reference.toISOString()}, over ${formatDuration(check.maxAgeMs)}`;
            return { ...base, query: sql, status: fresh ? 'pass' : 'fail', failing: null, detail: fresh ? null : detail };
          },
        };
      }
      case 'sql': {
        const body = renderSql(check).trim().replace(/(;\s*)+$/, '');
        return counting(`select count(*) from (\n${body}\n) as weir_check`, (n) => `the query returned ${n} row(s)`);
      }
    }
  });
}
