import type { ColumnType } from '../warehouse.js';

/**
 * Comment that marks a `Nullable(UInt8)` column as a Weir boolean: ClickHouse 18.16 has no Bool
 * type, and the comment is what lets `describe` and `query` give booleans back.
 */
export const BOOLEAN_COMMENT = 'weir:boolean';

/**
 * Budget for the literals of one `IN (...)` list. The server parses at most `max_query_size`
 * (262144 bytes by default) of a query; half of it leaves room for the rest of the statement.
 */
const IN_LIST_BYTES = 128 * 1024;

/**
 * A backtick-quoted identifier. Inside backticks ClickHouse reads backslash escapes, so both the
 * backslash and the backtick are escaped.
 *
 * @example
 * ```ts
 * ident('order'); // '`order`'
 * ```
 */
export function ident(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** `db`.`table`. */
export function tableName(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

/**
 * A single-quoted string literal. ClickHouse 18.16 has no query parameters (`{name:Type}` came in
 * 19.x), so values in the adapter's own statements are escaped here.
 *
 * @example
 * ```ts
 * literal("it's"); // "'it\\'s'"
 * ```
 */
export function literal(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * The ClickHouse type of a Weir column. Timestamps are `DateTime('UTC')`: 18.16 has no
 * DateTime64, so whole seconds are kept, and the explicit zone makes the stored wall clock UTC
 * whatever the server's zone is. Booleans are `UInt8` marked with {@link BOOLEAN_COMMENT}.
 */
export function columnType(type: ColumnType): string {
  switch (type) {
    case 'timestamp':
      return "Nullable(DateTime('UTC'))";
    case 'bigint':
      return 'Nullable(Int64)';
    case 'double':
      return 'Nullable(Float64)';
    case 'boolean':
      return 'Nullable(UInt8)';
    case 'varchar':
      return 'Nullable(String)';
  }
}

/**
 * A column of CREATE TABLE. The key column is a non-nullable `String`: it is the sort key.
 *
 * @example
 * ```ts
 * columnDefinition('ok', 'boolean', false); // "`ok` Nullable(UInt8) COMMENT 'weir:boolean'"
 * ```
 */
export function columnDefinition(name: string, type: ColumnType, isKey: boolean): string {
  if (isKey) return `${ident(name)} String`;
  const comment = type === 'boolean' ? ` COMMENT ${literal(BOOLEAN_COMMENT)}` : '';
  return `${ident(name)} ${columnType(type)}${comment}`;
}

/**
 * The Weir type of a ClickHouse column, for `describe`: the exact inverse for columns Weir
 * created, the nearest type for others.
 */
export function weirType(clickHouseType: string, comment: string): ColumnType {
  const t = unwrap(clickHouseType);
  if (t === 'UInt8' && comment === BOOLEAN_COMMENT) return 'boolean';
  if (t.startsWith('DateTime') || t === 'Date') return 'timestamp';
  if (/^U?Int\d+$/.test(t)) return 'bigint';
  if (t.startsWith('Float') || t.startsWith('Decimal')) return 'double';
  return 'varchar';
}

/** The inner type of `Nullable(...)` and `LowCardinality(...)`. */
export function unwrap(clickHouseType: string): string {
  let t = clickHouseType;
  for (;;) {
    const m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(t);
    if (!m?.[1]) return t;
    t = m[1];
  }
}

/**
 * Splits keys into `IN (...)` lists that stay under the server's query size limit.
 *
 * @example
 * ```ts
 * for (const list of inLists(keys)) await run(`SELECT id FROM t WHERE id IN (${list})`);
 * ```
 */
export function inLists(keys: string[]): string[] {
  const lists: string[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    const lit = literal(key);
    const size = Buffer.byteLength(lit) + 2;
    if (current.length > 0 && bytes + size > IN_LIST_BYTES) {
      lists.push(current.join(', '));
      current = [];
      bytes = 0;
    }
    current.push(lit);
    bytes += size;
  }
  if (current.length > 0) lists.push(current.join(', '));
  return lists;
}

/**
 * Splits SQL text into its statements at the semicolons outside quotes and comments: the HTTP
 * interface takes one statement per request. Quotes follow ClickHouse: `'…'`, `"…"` and `` `…` ``
 * with backslash escapes or a doubled quote; comments are `--` to the end of the line and
 * `/* … *\/`. Statements holding only whitespace and comments are left out.
 *
 * @example
 * ```ts
 * splitStatements("insert into t values ('a;b'); -- done\nselect 1;"); // ["insert into t values ('a;b')", '-- done\nselect 1']
 * ```
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let code = false;
  let i = 0;
  const push = (end: number): void => {
    if (code) out.push(sql.slice(start, end).trim());
    start = end + 1;
    code = false;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      code = true;
      i += 1;
      while (i < sql.length) {
        if (sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i += 1;
      }
      i += 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === ';') {
      push(i);
      i += 1;
    } else {
      if (!/\s/.test(c)) code = true;
      i += 1;
    }
  }
  push(sql.length);
  return out;
}

/** Leading whitespace and comments of a statement, removed. */
function withoutLeadingComments(sql: string): string {
  let s = sql;
  for (;;) {
    const t = s.trimStart();
    if (t.startsWith('--')) {
      const end = t.indexOf('\n');
      s = end === -1 ? '' : t.slice(end + 1);
    } else if (t.startsWith('/*')) {
      const end = t.indexOf('*/');
      s = end === -1 ? '' : t.slice(end + 2);
    } else return t;
  }
}

const NAME = '(?:`(?:[^`\\\\]|\\\\.|``)*`|[A-Za-z_][\\w$]*)';
const MUTATION = new RegExp(`^ALTER\\s+TABLE\\s+(${NAME})(?:\\.(${NAME}))?\\s+(?:ON\\s+CLUSTER\\s+\\S+\\s+)?(?:DELETE|UPDATE)\\b`, 'i');

function unquote(name: string): string {
  return name.startsWith('`') ? name.slice(1, -1).replace(/\\(.)|``/g, (_match, c?: string) => c ?? '`') : name;
}

/**
 * The table a statement mutates (`ALTER TABLE … DELETE | UPDATE`), whose mutation runs in the
 * background on ClickHouse; undefined for any other statement.
 *
 * @example
 * ```ts
 * mutatedTable('ALTER TABLE `an`.t DELETE WHERE day = today()', 'web'); // { schema: 'an', table: 't' }
 * ```
 */
export function mutatedTable(statement: string, schema: string): { schema: string; table: string } | undefined {
  const m = MUTATION.exec(withoutLeadingComments(statement));
  if (!m?.[1]) return undefined;
  return m[2] === undefined ? { schema, table: unquote(m[1]) } : { schema: unquote(m[1]), table: unquote(m[2]) };
}
