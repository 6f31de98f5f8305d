import type { ColumnType, Value } from '../warehouse.js';
import { unwrap } from './clickhouse-sql.js';

/** What one cell becomes in a JSONEachRow insert. */
export type JsonCell = string | number | null;

/**
 * The range of 18.16's `DateTime` (an unsigned 32-bit count of seconds). A timestamp outside it
 * would be stored wrapped around, so it is refused instead.
 */
const MIN_DATETIME_MS = 0;
const MAX_DATETIME_MS = 4_294_967_295_000;

/** A value the adapter refuses to write, with the reason. */
export class UnstorableValueError extends Error {}

/**
 * Encodes a cell for a JSONEachRow insert into a column of this Weir type: timestamps as UTC
 * `YYYY-MM-DD hh:mm:ss` (whole seconds, the fraction dropped), booleans as 1/0.
 *
 * @example
 * ```ts
 * encodeCell(new Date('2026-11-22T10:11:12.345Z'), 'timestamp'); // '2026-11-22 10:11:12'
 * encodeCell(true, 'boolean'); // 1
 * ```
 */
export function encodeCell(value: Value | undefined, type: ColumnType): JsonCell {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'timestamp': {
      const ms = value instanceof Date ? value.getTime() : typeof value === 'boolean' ? NaN : new Date(value).getTime();
      if (!Number.isFinite(ms)) throw new UnstorableValueError(`${String(value)} is not a timestamp`);
      if (ms < MIN_DATETIME_MS || ms > MAX_DATETIME_MS) {
        throw new UnstorableValueError(`${new Date(ms).toISOString()} is outside ClickHouse DateTime's range (1970 to 2106)`);
      }
      return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    }
    case 'boolean':
      return value === true || value === 'true' || value === '1' || (typeof value === 'number' && value !== 0) ? 1 : 0;
    case 'bigint':
    case 'double':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (value instanceof Date) return value.getTime();
      // Strings are sent quoted; the server parses numbers from quoted JSON strings.
      return value;
    case 'varchar':
      return value instanceof Date ? value.toISOString() : String(value);
  }
}

export interface ResultColumn {
  name: string;
  type: string;
}

/**
 * Turns a JSONCompact result into the port's shape: 64-bit integers (quoted by the server) as
 * numbers when safe, otherwise strings; `DateTime` as ISO strings; `UInt8` columns whose name is
 * a Weir boolean column of the schema as true/false (reported as `Bool`).
 *
 * @example
 * ```ts
 * decodeResult([{ name: 'n', type: 'UInt64' }], [['5']], new Set(), 'UTC');
 * // { columns: [{ name: 'n', type: 'UInt64' }], rows: [[5]] }
 * ```
 */
export function decodeResult(
  meta: ResultColumn[],
  data: unknown[][],
  booleanNames: ReadonlySet<string>,
  serverTimeZone: string,
): { columns: ResultColumn[]; rows: unknown[][] } {
  const decoders = meta.map((c) => decoderFor(c, booleanNames, serverTimeZone));
  return {
    columns: meta.map((c, i) => ({ name: c.name, type: decoders[i]?.type ?? c.type })),
    rows: data.map((row) => row.map((cell, i) => (cell === null ? null : (decoders[i]?.decode(cell) ?? cell)))),
  };
}

interface Decoder {
  type: string;
  decode(cell: unknown): unknown;
}

function decoderFor(column: ResultColumn, booleanNames: ReadonlySet<string>, serverTimeZone: string): Decoder {
  const inner = unwrap(column.type);
  const nullable = column.type.startsWith('Nullable(');
  if (inner === 'UInt8' && booleanNames.has(column.name)) {
    return { type: nullable ? 'Nullable(Bool)' : 'Bool', decode: (cell) => cell !== 0 && cell !== '0' };
  }
  if (/^U?Int(64|128|256)$/.test(inner)) {
    return { type: column.type, decode: (cell) => bigIntegerCell(cell) };
  }
  const dt = /^DateTime(?:\('([^']+)'\))?$/.exec(inner);
  if (dt) {
    const zone = dt[1] ?? serverTimeZone;
    return { type: column.type, decode: (cell) => (typeof cell === 'string' ? dateTimeToIso(cell, zone) : cell) };
  }
  return { type: column.type, decode: (cell) => cell };
}

function bigIntegerCell(cell: unknown): unknown {
  if (typeof cell !== 'string') return cell;
  const n = Number(cell);
  return Number.isSafeInteger(n) ? n : cell;
}

/**
 * A `DateTime` as the server prints it (`YYYY-MM-DD hh:mm:ss`, wall clock in `timeZone`) as an
 * ISO string. 18.16 prints the zero DateTime as `0000-00-00 00:00:00`: that is the epoch.
 *
 * @example
 * ```ts
 * dateTimeToIso('2026-11-22 10:11:12', 'UTC'); // '2026-11-22T10:11:12.000Z'
 * ```
 */
export function dateTimeToIso(text: string, timeZone: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return text;
  if (m[1] === '0000') return new Date(0).toISOString();
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (isUtc(timeZone)) return new Date(wall).toISOString();
  // The offset depends on the instant, which is what is being computed: guess with the wall
  // clock read as UTC, then correct once with the offset at the guess (right except inside a
  // DST jump, where the wall clock is ambiguous anyway).
  const guess = wall - offsetMs(wall, timeZone);
  return new Date(wall - offsetMs(guess, timeZone)).toISOString();
}

function isUtc(timeZone: string): boolean {
  return /^(Etc\/)?(UTC|UCT|GMT|Universal|Zulu)(\+0|-0|0)?$/i.test(timeZone);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** How far `timeZone`'s wall clock is ahead of UTC at the instant `at`. */
function offsetMs(at: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(at / 1000) * 1000;
}
