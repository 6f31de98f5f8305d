/**
 * How query results become JSON-friendly values: parsers passed with each query (never set on
 * the process-wide `pg.types`, which other code in the process may rely on).
 */
import { defaultTypeParser, type PgTypeParsers } from './pg-pool.js';

/** Type OIDs from Postgres' `pg_type.dat`; stable across versions. */
const OID = {
  bytea: 17,
  int8: 20,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  numeric: 1700,
} as const;

function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function parseNumeric(text: string): number | string {
  const n = Number(text);
  // NaN and ±Infinity have no JSON number.
  return Number.isFinite(n) ? n : text;
}

// The query session runs with DateStyle ISO and TimeZone UTC, so timestamps arrive as
// `2026-11-22 10:11:12.345678+00`; microseconds are cut to the milliseconds a Date holds.
const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d(?::\d\d)?)?$/;

function parseTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text);
  // BC dates, years past 9999 and ±infinity have no ISO-8601 form a Date reads: kept as text.
  if (!m) return text;
  const [, y, mo, d, time, frac, offset] = m;
  const ms = (frac ?? '.').slice(1, 4).padEnd(3, '0');
  const zone = offset === undefined ? 'Z' : offset.length === 3 ? `${offset}:00` : offset;
  const date = new Date(`${y}-${mo}-${d}T${time}.${ms}${zone}`);
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

const identity = (text: string): string => text;

const OVERRIDES = new Map<number, (text: string) => unknown>([
  [OID.int8, parseInt8],
  [OID.numeric, parseNumeric],
  [OID.timestamp, parseTimestamp],
  [OID.timestamptz, parseTimestamp],
  // pg makes Buffers and interval objects of these; their text form is what JSON can carry.
  [OID.bytea, identity],
  // pg makes a local-midnight Date of a date, which shifts the day in JSON west of UTC.
  [OID.date, identity],
  [OID.interval, identity],
]);

/** Parsers for query results: 64-bit integers as numbers when safe, timestamps as ISO strings. */
export const resultTypes: PgTypeParsers = {
  getTypeParser(oid: number) {
    return OVERRIDES.get(oid) ?? defaultTypeParser(oid);
  },
};
