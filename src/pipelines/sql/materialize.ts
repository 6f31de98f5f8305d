/**
 * The statements that turn a model's SELECT into its relation:
 * - view: created or replaced;
 * - table: built under a temporary name, then swapped in for the old one (one transaction on
 *   DuckDB and Postgres, so readers see the old table or the new one, never half of either);
 * - incremental: one partition at a time: the partition's rows are deleted and the model's rows
 *   for it inserted (one transaction on DuckDB and Postgres). Only the model's rows inside the
 *   partition's window are inserted, so running a partition again replaces exactly its rows.
 */
import type { SqlDialect } from './dialect.js';

export interface Target {
  schema: string;
  table: string;
}

export interface Window {
  start: Date;
  end: Date;
}

/** Suffixes of the work tables of a swap; a model name plus these stays within 63 bytes for names up to 50. */
const NEW = '__weir_new';
const OLD = '__weir_old';

/** The model's SELECT without trailing semicolons, ready to be wrapped. */
export function selectBody(sql: string): string {
  return sql.trim().replace(/(;\s*)+$/, '');
}

function inWindow(d: SqlDialect, column: string, window: Window): string {
  return `${d.ident(column)} >= ${d.timestamp(window.start)} and ${d.ident(column)} < ${d.timestamp(window.end)}`;
}

/** The model's rows inside a window: the SELECT wrapped and filtered on the partition column. */
export function windowed(d: SqlDialect, body: string, column: string, window: Window): string {
  return `select * from (\n${body}\n) as weir_model where ${inWindow(d, column, window)}`;
}

export function viewSql(d: SqlDialect, target: Target, body: string): string {
  const name = d.table(target.schema, target.table);
  if (d.engine === 'clickhouse') return `DROP TABLE IF EXISTS ${name};\nCREATE VIEW ${name} AS\n${body}`;
  return `create or replace view ${name} as\n${body}`;
}

export function tableSql(d: SqlDialect, target: Target, body: string): string {
  const name = d.table(target.schema, target.table);
  const fresh = d.table(target.schema, target.table + NEW);
  if (d.engine === 'clickhouse') {
    const old = d.table(target.schema, target.table + OLD);
    return [
      `DROP TABLE IF EXISTS ${fresh}`,
      d.createTableAs(fresh, body),
      // RENAME needs both names to exist: an empty stand-in the first time.
      `CREATE TABLE IF NOT EXISTS ${name} AS ${fresh}`,
      `DROP TABLE IF EXISTS ${old}`,
      `RENAME TABLE ${name} TO ${old}, ${fresh} TO ${name}`,
      `DROP TABLE ${old}`,
    ].join(';\n');
  }
  return [
    `drop table if exists ${fresh}`,
    d.createTableAs(fresh, body),
    `drop table if exists ${name}`,
    `alter table ${fresh} rename to ${d.ident(target.table)}`,
  ].join(';\n');
}

/** An empty table of the model's shape, when the incremental model has none yet. */
export function createIncrementalSql(d: SqlDialect, target: Target, body: string): string {
  return d.createTableAs(d.table(target.schema, target.table), `select * from (\n${body}\n) as weir_model limit 0`, true);
}

/**
 * Replaces one partition of an incremental model. `columns` are the table's, in its order, so
 * the insert matches columns by name rather than by position.
 */
export function replacePartitionSql(d: SqlDialect, target: Target, body: string, column: string, window: Window, columns: string[]): string {
  const name = d.table(target.schema, target.table);
  const list = columns.map((c) => d.ident(c)).join(', ');
  const remove = d.engine === 'clickhouse' ? `ALTER TABLE ${name} DELETE WHERE ${inWindow(d, column, window)}` : `delete from ${name} where ${inWindow(d, column, window)}`;
  return `${remove};\ninsert into ${name} (${list})\nselect ${list} from (\n${body}\n) as weir_model where ${inWindow(d, column, window)}`;
}
