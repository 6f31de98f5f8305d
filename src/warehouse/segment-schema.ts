import type { ColumnType, Value } from './warehouse.js';

/**
 * The Segment warehouse convention, engine-neutral: which tables an event lands in, which
 * columns it fills and with which types. https://segment.com/docs/connections/storage/warehouses/schema/
 *
 * - `tracks` (every track), one table per track event (snake_case slug of its name), `pages`,
 *   `screens`, `identifies`, `groups`, `aliases`, and `users` (upserted on user id);
 * - `properties` (tracks, pages, screens) and `traits` (identifies, groups, users) become
 *   unprefixed columns, `context` becomes `context_*` columns, nested objects are flattened with
 *   `_`, arrays are stored as JSON text;
 * - a property whose column name is a reserved envelope column is not stored there (Segment
 *   drops it; Weir sends it to `weir_discards` so nothing vanishes silently).
 */

/** One row for one table, with the type each value asks for. */
export interface MappedRow {
  table: string;
  /** `insert` for event tables (idempotent by messageId), `upsert` for `users`. */
  mode: 'insert' | 'upsert';
  /** Column → value and the type the value asks for. */
  cells: Map<string, Cell>;
}

export interface Cell {
  value: Value;
  type: ColumnType;
}

/** A value that could not be stored, with the reason; the loader writes it to `weir_discards`. */
export interface Discard {
  table: string;
  column: string;
  /** The value as JSON text. */
  value: string;
  reason: string;
  messageId: string;
}

/**
 * Columns Weir fills from the envelope in every event table. A property or trait with one of
 * these names (or with the name of a type-specific envelope column, such as `event` on a track
 * table or `name` on pages) is discarded rather than stored there.
 */
export const RESERVED_COLUMNS: ReadonlySet<string> = new Set([
  'id',
  'anonymous_id',
  'user_id',
  'received_at',
  'sent_at',
  'timestamp',
  'original_timestamp',
  'uuid_ts',
  'loaded_at',
]);

/** Tables Weir itself writes; a track event whose slug is one of these gets a `track_` prefix. */
const RESERVED_TABLES: ReadonlySet<string> = new Set([
  'tracks',
  'pages',
  'screens',
  'identifies',
  'groups',
  'aliases',
  'users',
  'weir_discards',
]);

/** Longest identifier every engine accepts (Postgres: 63 bytes). */
const MAX_IDENTIFIER = 63;

/**
 * snake_case as Segment's go-snakecase does: word boundaries at case changes and at any
 * character that is not a letter or digit; lower case; a leading digit gets an underscore.
 *
 * @example
 * ```ts
 * snakeCase('Order Completed'); // 'order_completed'
 * snakeCase('productID');       // 'product_id'
 * snakeCase('2fa enabled');     // '_2fa_enabled'
 * ```
 */
export function snakeCase(name: string): string {
  let s = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') s = 'unnamed';
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s.length > MAX_IDENTIFIER ? s.slice(0, MAX_IDENTIFIER).replace(/_+$/, '') : s;
}

/** The table of a track event: its snake_case slug, kept clear of Weir's own tables. */
export function eventTableName(event: string): string {
  const slug = snakeCase(event);
  return RESERVED_TABLES.has(slug) ? snakeCase(`track_${slug}`) : slug;
}

/** Schema (database) name of a source: a safe identifier derived from its name. */
export function schemaNameOf(sourceName: string): string {
  return snakeCase(sourceName);
}

// ISO-8601 date-time with a time part, as SDKs send it; plain dates and numbers stay what they are.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** The column type a JSON value asks for, or undefined for null (no column is made for null). */
export function cellOf(value: unknown): Cell | undefined {
  switch (typeof value) {
    case 'string': {
      if (value.length >= 16 && value.length <= 35 && ISO_TIMESTAMP.test(value)) {
        const ms = Date.parse(value);
        if (!Number.isNaN(ms)) return { value: new Date(ms), type: 'timestamp' };
      }
      return { value, type: 'varchar' };
    }
    case 'number':
      if (!Number.isFinite(value)) return undefined;
      return Number.isSafeInteger(value) ? { value, type: 'bigint' } : { value, type: 'double' };
    case 'boolean':
      return { value, type: 'boolean' };
    case 'object':
      if (value === null) return undefined;
      return { value: JSON.stringify(value), type: 'varchar' };
    default:
      return undefined;
  }
}

/**
 * Flattens an object into `prefix_key_subkey` columns; arrays become JSON text. A column name
 * produced twice (e.g. `a_b` from `{a_b}` and `{a:{b}}`) keeps the first value and reports the
 * other as a discard.
 */
function flatten(
  obj: Record<string, unknown>,
  prefix: string,
  into: Map<string, Cell>,
  onClash: (column: string, value: unknown) => void,
): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    const column = prefix === '' ? snakeCase(key) : snakeCase(`${prefix}_${key}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, column, into, onClash);
      continue;
    }
    const cell = cellOf(value);
    if (cell === undefined) continue;
    if (into.has(column)) onClash(column, value);
    else into.set(column, cell);
  }
}

function setIf(cells: Map<string, Cell>, column: string, value: unknown, type?: ColumnType): void {
  const cell = cellOf(value);
  if (cell === undefined) return;
  // Envelope fields have fixed types: ids are text even when a client sent a number.
  if (type === 'varchar' && cell.type !== 'varchar') cells.set(column, { value: String(value), type: 'varchar' });
  else if (type === 'timestamp' && cell.type !== 'timestamp') return;
  else cells.set(column, cell);
}

/**
 * Maps one normalised event to its rows and discards.
 *
 * @example
 * ```ts
 * const { rows } = mapEvent({ type: 'track', event: 'Order Completed', messageId: 'm1', userId: 'u1',
 *   properties: { total: 30 }, context: { page: { url: 'https://x' } } });
 * rows.map((r) => r.table); // ['tracks', 'order_completed']
 * ```
 */
export function mapEvent(event: Record<string, unknown>): { rows: MappedRow[]; discards: Discard[] } {
  const messageId = String(event.messageId ?? '');
  const discards: Discard[] = [];
  const rows: MappedRow[] = [];

  const envelope = new Map<string, Cell>();
  setIf(envelope, 'id', messageId, 'varchar');
  setIf(envelope, 'anonymous_id', event.anonymousId, 'varchar');
  setIf(envelope, 'user_id', event.userId, 'varchar');
  setIf(envelope, 'received_at', event.receivedAt, 'timestamp');
  setIf(envelope, 'sent_at', event.sentAt, 'timestamp');
  setIf(envelope, 'timestamp', event.timestamp, 'timestamp');
  setIf(envelope, 'original_timestamp', event.originalTimestamp, 'timestamp');

  const contextCells = new Map<string, Cell>();
  const context = event.context;
  if (context !== null && typeof context === 'object' && !Array.isArray(context)) {
    flatten(context as Record<string, unknown>, 'context', contextCells, (column, value) =>
      discards.push({ table: '*', column, value: JSON.stringify(value) ?? 'null', reason: 'duplicate column name after flattening', messageId }),
    );
  }

  /** Adds the unprefixed fields of `payload` (properties or traits), keeping clear of `reserved`. */
  const addPayload = (table: string, cells: Map<string, Cell>, payload: unknown, reserved: ReadonlySet<string>): void => {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return;
    const clash = (column: string, value: unknown, reason: string) =>
      discards.push({ table, column, value: JSON.stringify(value) ?? 'null', reason, messageId });
    const own = new Map<string, Cell>();
    flatten(payload as Record<string, unknown>, '', own, (column, value) => clash(column, value, 'duplicate column name after flattening'));
    for (const [column, cell] of own) {
      if (RESERVED_COLUMNS.has(column) || reserved.has(column) || cells.has(column)) {
        clash(column, cell.value instanceof Date ? cell.value.toISOString() : cell.value, `"${column}" is a reserved column`);
      } else {
        cells.set(column, cell);
      }
    }
  };

  /** Envelope + type-specific columns + context + properties or traits. */
  const build = (table: string, extra: Array<[string, unknown, ColumnType?]>, payload: unknown): Map<string, Cell> => {
    const cells = new Map<string, Cell>(envelope);
    for (const [column, value, type] of extra) setIf(cells, column, value, type);
    for (const [column, cell] of contextCells) cells.set(column, cell);
    addPayload(table, cells, payload, new Set(extra.map(([column]) => column)));
    return cells;
  };

  switch (event.type) {
    case 'track': {
      const name = String(event.event ?? '');
      const table = eventTableName(name);
      const extra: Array<[string, unknown, ColumnType?]> = [
        ['event', table, 'varchar'],
        ['event_text', name, 'varchar'],
      ];
      rows.push({ table: 'tracks', mode: 'insert', cells: build('tracks', extra, undefined) });
      rows.push({ table, mode: 'insert', cells: build(table, extra, event.properties) });
      break;
    }
    case 'page':
    case 'screen': {
      const table = event.type === 'page' ? 'pages' : 'screens';
      const extra: Array<[string, unknown, ColumnType?]> = [
        ['name', event.name, 'varchar'],
        ['category', event.category, 'varchar'],
      ];
      rows.push({ table, mode: 'insert', cells: build(table, extra, event.properties) });
      break;
    }
    case 'identify': {
      rows.push({ table: 'identifies', mode: 'insert', cells: build('identifies', [], event.traits) });
      if (event.userId !== undefined && event.userId !== null && event.userId !== '') {
        // users holds the latest traits per user: keyed by the user id, not the messageId.
        const user = new Map<string, Cell>();
        setIf(user, 'id', event.userId, 'varchar');
        setIf(user, 'received_at', event.receivedAt, 'timestamp');
        addPayload('users', user, event.traits, new Set());
        rows.push({ table: 'users', mode: 'upsert', cells: user });
      }
      break;
    }
    case 'group':
      rows.push({ table: 'groups', mode: 'insert', cells: build('groups', [['group_id', event.groupId, 'varchar']], event.traits) });
      break;
    case 'alias':
      rows.push({ table: 'aliases', mode: 'insert', cells: build('aliases', [['previous_id', event.previousId, 'varchar']], undefined) });
      break;
    default:
      break;
  }
  // A clash found while flattening context belongs to every table the event fills.
  for (const d of discards) if (d.table === '*') d.table = rows[0]?.table ?? 'tracks';
  return { rows, discards };
}

/**
 * Whether a value of type `incoming` can be stored in a column of type `column`, and how:
 * integers widen into double columns, timestamps into varchar columns as ISO text. Anything else
 * is a conflict and goes to the discards.
 */
export function coerce(cell: Cell, column: ColumnType): { ok: true; value: Value } | { ok: false; reason: string } {
  if (cell.type === column) return { ok: true, value: cell.value };
  if (column === 'double' && cell.type === 'bigint') return { ok: true, value: cell.value };
  if (column === 'varchar' && cell.type === 'timestamp') return { ok: true, value: (cell.value as Date).toISOString() };
  return { ok: false, reason: `${cell.type} value in a ${column} column` };
}
