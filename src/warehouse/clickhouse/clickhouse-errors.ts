import { WeirError } from '../../errors/catalogue.js';

/** An exception the server answered with. */
export interface ServerError {
  /** ClickHouse's numeric error code (60 UNKNOWN_TABLE, 164 READONLY, 159 TIMEOUT_EXCEEDED, …). */
  code: number;
  /** The first line of the message, without the exception class and stack. */
  message: string;
}

/** Codes that mean "try again later" rather than "this statement is wrong". */
const TRANSIENT_CODES = new Set([
  192, // UNKNOWN_USER: the user may not be provisioned yet
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  252, // TOO_MANY_PARTS: inserts outran merges
  319, // UNKNOWN_STATUS_OF_INSERT
  516, // AUTHENTICATION_FAILED (newer servers)
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);

export const READONLY_CODE = 164;
const TIMEOUT_CODES = new Set([
  159, // TIMEOUT_EXCEEDED: max_execution_time
  160, // TOO_SLOW: the server predicted it would exceed max_execution_time
  394, // QUERY_WAS_CANCELLED
]);

/**
 * The server's exception in an error from the client, in 18.16's form
 * (`Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception`)
 * or a newer server's (`Code: 60. DB::Exception: Table x doesn't exist. (UNKNOWN_TABLE) (version …)`).
 *
 * @example
 * ```ts
 * serverError(new Error('Code: 164, e.displayText() = DB::Exception: Cannot drop table in readonly mode, e.what() = DB::Exception'));
 * // { code: 164, message: 'Cannot drop table in readonly mode' }
 * ```
 */
export function serverError(err: unknown): ServerError | undefined {
  if (!(err instanceof Error)) return undefined;
  const m = /Code: (\d+)[,.] (?:e\.displayText\(\) = )?(?:[\w:]*Exception: )?(.*)/.exec(err.message);
  if (m?.[1] !== undefined && m[2] !== undefined) {
    const message = m[2]
      .replace(/, e\.what\(\) = .*$/, '')
      .replace(/ \([A-Z0-9_]{3,}\)( \(version [^)]*\))?\.?$/, '')
      .trim();
    return { code: Number(m[1]), message };
  }
  // The client parses a newer server's message itself and keeps the code as a string.
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return { code: Number(code), message: err.message.split('\n')[0] ?? '' };
  return undefined;
}

/** True for errors of the connection rather than of the statement. */
export function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  // The client's own request timeout and a server closing the socket mid-answer.
  return /^Timeout error|socket hang up/i.test(err.message);
}

/**
 * The WeirError for a failure of the adapter's own statements (DDL, writes, describe): an
 * unreachable server is `WEIR_WAREHOUSE_UNAVAILABLE`, a server asking to retry (too many parts,
 * …) `WEIR_WAREHOUSE_BUSY` (both retriable), the rest `WEIR_WAREHOUSE_FAILED`.
 */
export function warehouseError(err: unknown, what: string): WeirError {
  if (err instanceof WeirError) return err;
  const server = serverError(err);
  if (server && TRANSIENT_CODES.has(server.code)) {
    return new WeirError('WEIR_WAREHOUSE_BUSY', { engine: 'clickhouse', detail: `${what}: ${server.message}` }, { cause: err });
  }
  if (isNetworkError(err)) {
    return new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'clickhouse', detail: `${what}: ${server?.message ?? (err as Error).message}` }, { cause: err });
  }
  const detail = server ? `${what}: ${server.message} (code ${server.code})` : `${what}: ${err instanceof Error ? err.message : String(err)}`;
  return new WeirError('WEIR_WAREHOUSE_FAILED', { engine: 'clickhouse', detail }, { cause: err });
}

/** The WeirError for a failed user query. */
export function queryError(err: unknown, timeoutMs: number): WeirError {
  if (err instanceof WeirError) return err;
  const server = serverError(err);
  if (server) {
    if (TIMEOUT_CODES.has(server.code)) return new WeirError('WEIR_QUERY_TIMEOUT', { timeoutMs }, { cause: err });
    if (server.code === READONLY_CODE) return new WeirError('WEIR_QUERY_READ_ONLY', { detail: server.message }, { cause: err });
    if (TRANSIENT_CODES.has(server.code)) return warehouseError(err, 'query');
    return new WeirError('WEIR_QUERY_FAILED', { detail: server.message }, { cause: err });
  }
  if (isNetworkError(err)) return warehouseError(err, 'query');
  return new WeirError('WEIR_QUERY_FAILED', { detail: err instanceof Error ? err.message : String(err) }, { cause: err });
}
