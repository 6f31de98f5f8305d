/**
 * SQL text for the Postgres adapter: identifiers, types, and the statements built from them.
 * Values never appear in SQL text; they go as parameters.
 */
import { WeirError } from '../../errors/catalogue.js';
import type { ColumnSpec, ColumnType, TableRef } from '../warehouse.js';

/** Postgres truncates longer identifiers (NAMEDATALEN - 1), so two long names could collide. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes an identifier for Postgres: wraps it in double quotes and doubles the ones inside, so
 * `order`, `user` or `a"b` are names, never syntax. Refuses names Postgres would silently
 * truncate or cannot hold.
 *
 * @example
 * ```ts
 * quoteIdent('order'); // '"order"'
 * quoteIdent('a"b'); // '"a""b"'
 * ```
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new WeirError('WEIR_WAREHOUSE_FAILED', { engine: 'postgres', detail: `invalid identifier ${JSON.stringify(name)}` });
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new WeirError('WEIR_WAREHOUSE_FAILED', {
      engine: 'postgres',
      detail: `identifier ${JSON.stringify(name)} is longer than ${MAX_IDENTIFIER_BYTES} bytes, which Postgres would truncate`,
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(table: TableRef): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

export const PG_TYPE: Record<ColumnType, string> = {
  timestamp: 'timestamptz',
  bigint: 'bigint',
  double: 'double precision',
  boolean: 'boolean',
  varchar: 'text',
};

/**
 * The Weir type nearest to an `information_schema.columns.data_type`; types Weir never creates
 * (json, uuid, arrays, …) read as text.
 */
export function weirTypeOf(dataType: string): ColumnType {
  switch (dataType) {
    case 'bigint':
    case 'integer':
    case 'smallint':
      return 'bigint';
    case 'double precision':
    case 'real':
    case 'numeric':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'timestamp with time zone':
    case 'timestamp without time zone':
    case 'date':
      return 'timestamp';
    default:
      return 'varchar';
  }
}

function columnDefinition(c: ColumnSpec): string {
  return `${quoteIdent(c.name)} ${PG_TYPE[c.type]}`;
}

export function createTableSql(table: TableRef, columns: ColumnSpec[], key: string): string {
  const defs = [...columns.map(columnDefinition), `PRIMARY KEY (${quoteIdent(key)})`];
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (${defs.join(', ')})`;
}

export function addColumnsSql(table: TableRef, columns: ColumnSpec[]): string {
  return `ALTER TABLE ${qualified(table)} ${columns.map((c) => `ADD COLUMN IF NOT EXISTS ${columnDefinition(c)}`).join(', ')}`;
}

/**
 * One INSERT for any number of rows: each column travels as one array parameter and `unnest`
 * zips them back into rows, so the statement text (and its cached plan) does not depend on the
 * row count and the 65535-parameter limit never applies.
 */
export function insertSql(table: TableRef, columns: ColumnSpec[], mode: 'insert' | 'upsert', key: string): string {
  const names = columns.map((c) => quoteIdent(c.name));
  const arrays = columns.map((c, i) => `$${i + 1}::${PG_TYPE[c.type]}[]`);
  const updated = columns.filter((c) => c.name !== key).map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
  const onConflict =
    mode === 'upsert' && updated.length > 0
      ? `ON CONFLICT (${quoteIdent(key)}) DO UPDATE SET ${updated.join(', ')}`
      : `ON CONFLICT (${quoteIdent(key)}) DO NOTHING`;
  return `INSERT INTO ${qualified(table)} (${names.join(', ')}) SELECT * FROM unnest(${arrays.join(', ')}) ${onConflict}`;
}

/** Statements a cursor cannot hold: refused up front with a clear reason, not a syntax error. */
const COMMANDS = new Set(
  (
    'abort alter analyze begin call checkpoint close cluster comment commit copy create deallocate declare delete discard do ' +
    'drop end execute explain fetch grant import insert listen load lock merge move notify prepare reassign refresh reindex ' +
    'release reset revoke rollback savepoint security set show start truncate unlisten update vacuum'
  ).split(' '),
);

/** The first word of the SQL, after whitespace and comments. */
function firstWord(sql: string): string {
  let i = 0;
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i] ?? '')) i += 1;
    if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      // Postgres block comments nest.
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) {
          depth += 1;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth -= 1;
          i += 2;
        } else i += 1;
      } while (depth > 0 && i < sql.length);
    } else break;
  }
  return /^[A-Za-z_]+/.exec(sql.slice(i))?.[0].toLowerCase() ?? '';
}

/**
 * The SQL to put in the cursor: one trailing semicolon stripped. Statements a cursor cannot hold
 * (writes, DDL, transaction control) are refused here; the engine still enforces the rest (a
 * cursor holds one SELECT/VALUES/TABLE query, the transaction is read-only).
 */
export function cursorQuery(sql: string): string {
  const text = sql.trimEnd().replace(/;$/, '');
  const word = firstWord(text);
  if (COMMANDS.has(word)) {
    throw new WeirError('WEIR_QUERY_READ_ONLY', { detail: `only SELECT, VALUES, TABLE and WITH queries run, not ${word.toUpperCase()}` });
  }
  return text;
}
