/**
 * Which failures mean "the server is unreachable, try again later" and which are final. The
 * distinction decides whether the sink retries a batch or parks it.
 */
import { WeirError } from '../../errors/catalogue.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/**
 * SQLSTATEs of a server that is going away or not accepting sessions: admin_shutdown,
 * crash_shutdown, cannot_connect_now, too_many_connections. Class 08 is checked separately.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg reports a lost connection with messages, not codes. */
const LOST_CONNECTION = /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|connection ended|connection is closed/i;

interface ErrorFields {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
  severity?: unknown;
}

function fields(err: unknown): ErrorFields {
  return typeof err === 'object' && err !== null ? (err as ErrorFields) : {};
}

/** True when the error says the server cannot be reached, rather than that it refused the work. */
export function isUnreachable(err: unknown, depth = 0): boolean {
  if (depth > 3) return false;
  const e = fields(err);
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  if (typeof e.message === 'string' && LOST_CONNECTION.test(e.message)) return true;
  // Node reports a failed connect to a host with several addresses as an AggregateError.
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnreachable(x, depth + 1))) return true;
  return e.cause !== undefined && isUnreachable(e.cause, depth + 1);
}

/** A server-side SQL error (pg's DatabaseError), as opposed to a network or programming error. */
export function isSqlError(err: unknown): err is Error & { code: string } {
  const e = fields(err);
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

export function sqlState(err: unknown): string | undefined {
  const code = fields(err).code;
  return typeof code === 'string' ? code : undefined;
}

/** The engine's words for an error; an AggregateError's own message is empty. */
export function detailOf(err: unknown): string {
  const e = fields(err);
  if (typeof e.message === 'string' && e.message !== '') return e.message;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(detailOf).join('; ');
  if (typeof e.code === 'string') return e.code;
  return String(err);
}

/** SQLSTATEs that mean "try the same transaction again": deadlock and serialization failure. */
const TRANSIENT = new Set(['40P01', '40001']);

/**
 * `WEIR_WAREHOUSE_UNAVAILABLE` when unreachable and `WEIR_WAREHOUSE_BUSY` for deadlocks and
 * serialization failures (both retriable), otherwise `WEIR_WAREHOUSE_FAILED`.
 */
export function warehouseError(err: unknown): WeirError {
  if (err instanceof WeirError) return err;
  const sqlState = fields(err).code;
  const code = isUnreachable(err)
    ? 'WEIR_WAREHOUSE_UNAVAILABLE'
    : typeof sqlState === 'string' && TRANSIENT.has(sqlState)
      ? 'WEIR_WAREHOUSE_BUSY'
      : 'WEIR_WAREHOUSE_FAILED';
  return new WeirError(code, { engine: 'postgres', detail: detailOf(err) }, { cause: err });
}

export function unavailableError(err: unknown): WeirError {
  if (err instanceof WeirError && err.code === 'WEIR_WAREHOUSE_UNAVAILABLE') return err;
  return new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'postgres', detail: detailOf(err) }, { cause: err });
}

/**
 * The error of a failed query: timeouts, read-only refusals and SQL errors get their own codes;
 * an unreachable server is a warehouse problem, not the query's; anything else (a bug) is
 * rethrown as is.
 */
export function queryError(err: unknown, timeoutMs: number): unknown {
  if (err instanceof WeirError) return err;
  if (isUnreachable(err)) return unavailableError(err);
  if (!isSqlError(err)) return err;
  const detail = detailOf(err);
  switch (err.code) {
    case '57014': // query_canceled: statement_timeout fired
      return new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }, { cause: err });
    case '25006': // read_only_sql_transaction
      return new WeirError('WEIR_QUERY_READ_ONLY', { detail }, { cause: err });
    case '0A000': // feature_not_supported: a cursor over `WITH x AS (DELETE … RETURNING …)`
      if (/data-modifying/i.test(detail)) return new WeirError('WEIR_QUERY_READ_ONLY', { detail }, { cause: err });
      break;
  }
  return new WeirError('WEIR_QUERY_FAILED', { detail }, { cause: err });
}

/**
 * Catalog races between processes creating the same schema, table or column at once: the
 * `IF NOT EXISTS` check passed in both, one insert into the catalog lost. The object exists.
 */
export function isCreateRace(err: unknown): boolean {
  const code = sqlState(err);
  return code === '23505' || code === '42P06' || code === '42P07' || code === '42701' || code === '42710';
}
