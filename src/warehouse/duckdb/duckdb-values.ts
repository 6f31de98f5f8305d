/**
 * Value conversion at the DuckDB boundary: Weir cells into DuckDB values for the appender, and
 * DuckDB result values into JSON-friendly values for query answers.
 */
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBDecimalValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  TIMESTAMPTZ,
  VARCHAR,
  arrayFromArrayValue,
  arrayFromListValue,
  fromVariantValue,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue,
  type DuckDBType,
  type DuckDBValue,
  type DuckDBValueConverter,
} from '@duckdb/node-api';
import { WeirError } from '../../errors/catalogue.js';
import type { ColumnType, Value } from '../warehouse.js';

/** The vector type of each Weir column type, for the staging data chunks. */
export const VECTOR_TYPE: Readonly<Record<ColumnType, DuckDBType>> = {
  timestamp: TIMESTAMPTZ,
  bigint: BIGINT,
  double: DOUBLE,
  boolean: BOOLEAN,
  varchar: VARCHAR,
};

function refuse(column: string, type: ColumnType, value: Value): never {
  const shown = value instanceof Date ? 'an invalid Date' : `${typeof value} ${JSON.stringify(value)}`;
  throw new WeirError('WEIR_WAREHOUSE_FAILED', { engine: 'duckdb', detail: `column ${column} (${type}) cannot hold ${shown}` });
}

/**
 * A Weir cell as the DuckDB value of its column. The port promises timestamps as `Date` and
 * bigint cells as safe integers; the few lossless coercions here (an ISO string for a timestamp,
 * a digit string for a bigint) cost nothing, anything else is refused rather than guessed.
 *
 * @example
 * ```ts
 * toDuckDbValue('timestamp', new Date(0), 'sent_at'); // DuckDBTimestampTZValue { micros: 0n }
 * ```
 */
export function toDuckDbValue(type: ColumnType, value: Value, column: string): DuckDBValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'varchar':
      if (typeof value === 'string') return value;
      return value instanceof Date ? isoOrRefuse(value, column, type) : String(value);
    case 'bigint':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) return BigInt(value);
      if (typeof value === 'boolean') return value ? 1n : 0n;
      return refuse(column, type, value);
    case 'double':
      if (typeof value === 'number') return value;
      if (typeof value === 'boolean') return value ? 1 : 0;
      return refuse(column, type, value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return refuse(column, type, value);
    case 'timestamp': {
      const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!Number.isFinite(ms)) return refuse(column, type, value);
      return new DuckDBTimestampTZValue(BigInt(ms) * 1000n);
    }
  }
}

function isoOrRefuse(value: Date, column: string, type: ColumnType): string {
  if (Number.isNaN(value.getTime())) refuse(column, type, value);
  return value.toISOString();
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64/128-bit integer as a number when exact, else as its decimal string. */
function safeInteger(value: bigint): number | string {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value.toString();
}

/**
 * ISO-8601 in UTC with milliseconds, the precision of `Date` and of Segment timestamps. Floor
 * division, so an instant before 1970 does not round toward the epoch. Beyond `Date`'s range
 * (DuckDB's reaches further) the caller falls back to DuckDB's own rendering.
 */
function isoFromMillis(ms: bigint): string | null {
  const n = Number(ms);
  return Math.abs(n) <= 8.64e15 ? new Date(n).toISOString() : null;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

function timestampToJson(value: DuckDBValue): string {
  let ms: bigint | null = null;
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) {
    if (value.isFinite) ms = floorDiv(value.micros, 1000n);
  } else if (value instanceof DuckDBTimestampMillisecondsValue) {
    if (value.isFinite) ms = value.millis;
  } else if (value instanceof DuckDBTimestampSecondsValue) {
    if (value.isFinite) ms = value.seconds * 1000n;
  } else if (value instanceof DuckDBTimestampNanosecondsValue) {
    if (value.isFinite) ms = floorDiv(value.nanos, 1_000_000n);
  }
  return (ms !== null ? isoFromMillis(ms) : null) ?? String(value);
}

/**
 * Converts a DuckDB result value into what a JSON answer can carry: 64-bit and wider integers as
 * numbers while exact (else strings), timestamps as ISO strings in UTC, decimals as numbers,
 * non-finite floats as strings, nested values recursively, anything else as DuckDB prints it.
 *
 * @example
 * ```ts
 * chunk.convertRows(jsonFromDuckDb); // [[1, '2026-11-22T10:11:12.345Z', 'a']]
 * ```
 */
export const jsonFromDuckDb: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return value;
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return Number(value);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return typeof value === 'bigint' ? safeInteger(value) : String(value);
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return typeof value === 'number' && Number.isFinite(value) ? value : String(value);
    case DuckDBTypeId.DECIMAL:
      // A literal such as 1.5 is a DECIMAL in DuckDB; a console user expects a number.
      return value instanceof DuckDBDecimalValue ? value.toDouble() : Number(value);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return timestampToJson(value);
    case DuckDBTypeId.LIST:
      return arrayFromListValue(value, type, converter);
    case DuckDBTypeId.ARRAY:
      return arrayFromArrayValue(value, type, converter);
    case DuckDBTypeId.STRUCT:
      return objectFromStructValue(value, type, converter);
    case DuckDBTypeId.MAP:
      return objectArrayFromMapValue(value, type, converter);
    case DuckDBTypeId.UNION:
      return objectFromUnionValue(value, type, converter);
    case DuckDBTypeId.VARIANT:
      return fromVariantValue(value, type, converter);
    case DuckDBTypeId.SQLNULL:
      return null;
    default:
      // VARCHAR, UUID, DATE, TIME, INTERVAL, BLOB, ENUM, BIT, …: DuckDB's own text form.
      return String(value);
  }
};
