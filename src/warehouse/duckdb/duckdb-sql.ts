/** SQL text helpers for the DuckDB adapter: quoting and the Weir ↔ DuckDB type mapping. */
import type { ColumnType, TableRef } from '../warehouse.js';

/**
 * Quotes an identifier, always: event and property names are user input and include keywords
 * (`order`, `select`, `user`) and any character.
 *
 * @example
 * ```ts
 * quoteIdent('we"ird'); // '"we""ird"'
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `"schema"."table"`. */
export function qualified(table: TableRef): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

/**
 * The DuckDB type Weir creates for a column type. Timestamps are TIMESTAMPTZ: the instant is
 * stored (as UTC microseconds) whatever the session time zone, and without the ICU extension
 * (not bundled with the Node client) DuckDB renders and truncates them in UTC.
 */
export const DUCKDB_TYPE: Readonly<Record<ColumnType, string>> = {
  timestamp: 'TIMESTAMPTZ',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  varchar: 'VARCHAR',
};

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);
const FLOAT_TYPES = new Set(['FLOAT', 'REAL', 'DOUBLE']);

/**
 * The nearest Weir type of a DuckDB type name as `duckdb_columns()` spells it
 * (`TIMESTAMP WITH TIME ZONE`, `DECIMAL(18,3)`, `INTEGER[]`, …). Nested and unknown types are
 * varchar: that is how the loader would have to write into them.
 *
 * @example
 * ```ts
 * weirTypeOf('DECIMAL(18,3)'); // 'double'
 * ```
 */
export function weirTypeOf(duckDbType: string): ColumnType {
  const t = duckDbType.trim().toUpperCase();
  // A list or array of anything is not that thing.
  if (t.endsWith(']')) return 'varchar';
  if (INTEGER_TYPES.has(t)) return 'bigint';
  if (FLOAT_TYPES.has(t) || t === 'DECIMAL' || t.startsWith('DECIMAL(') || t.startsWith('NUMERIC')) return 'double';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'DATE' || t.startsWith('TIMESTAMP')) return 'timestamp';
  return 'varchar';
}
