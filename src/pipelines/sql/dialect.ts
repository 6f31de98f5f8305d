/**
 * The few SQL spellings that differ between warehouse engines, for the SQL the pipelines write
 * around a model's own: quoting, timestamp literals, and how tables are created.
 */
import { quoteIdent as duckIdent, quoteLiteral as duckLiteral } from '../../warehouse/duckdb/duckdb-sql.js';
import { quoteIdent as pgIdent } from '../../warehouse/postgres/postgres-sql.js';
import { ident as chIdent, literal as chLiteral } from '../../warehouse/clickhouse/clickhouse-sql.js';
import type { Warehouse } from '../../warehouse/warehouse.js';

export interface SqlDialect {
  engine: Warehouse['engine'];
  ident(name: string): string;
  /** `schema.table`, quoted. */
  table(schema: string, table: string): string;
  /** A UTC instant as a literal comparable with the engine's timestamp columns. */
  timestamp(at: Date): string;
  literal(value: string | number | boolean): string;
  /**
   * `CREATE TABLE <name> AS <select>` in the engine's words (ClickHouse needs an engine).
   * `ifNotExists` leaves an existing table as it is.
   */
  createTableAs(name: string, select: string, ifNotExists?: boolean): string;
}

function standard(engine: 'duckdb' | 'postgres', ident: (name: string) => string): SqlDialect {
  return {
    engine,
    ident,
    table: (schema, table) => `${ident(schema)}.${ident(table)}`,
    timestamp: (at) => `timestamptz '${at.toISOString()}'`,
    literal: (v) => (typeof v === 'string' ? duckLiteral(v) : String(v)),
    createTableAs: (name, select, ifNotExists) => `create table ${ifNotExists ? 'if not exists ' : ''}${name} as\n${select}`,
  };
}

const CLICKHOUSE: SqlDialect = {
  engine: 'clickhouse',
  ident: chIdent,
  table: (schema, table) => `${chIdent(schema)}.${chIdent(table)}`,
  // DateTime keeps whole seconds, in UTC as the loader stores timestamps.
  timestamp: (at) => `toDateTime('${at.toISOString().slice(0, 19).replace('T', ' ')}', 'UTC')`,
  literal: (v) => (typeof v === 'string' ? chLiteral(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v)),
  createTableAs: (name, select, ifNotExists) => `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${name} ENGINE = MergeTree ORDER BY tuple() AS\n${select}`,
};

/**
 * The dialect of an engine.
 *
 * @example
 * ```ts
 * dialectOf('postgres').timestamp(new Date(0)); // "timestamptz '1970-01-01T00:00:00.000Z'"
 * ```
 */
export function dialectOf(engine: Warehouse['engine']): SqlDialect {
  switch (engine) {
    case 'duckdb':
      return standard('duckdb', duckIdent);
    case 'postgres':
      return standard('postgres', pgIdent);
    case 'clickhouse':
      return CLICKHOUSE;
  }
}
