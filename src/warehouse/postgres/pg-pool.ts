/**
 * The part of node-postgres (`pg`) the adapter uses, declared here so that `pg`'s types stay in
 * this folder and tests can pass a real pool or a small fake (the way kysely's `PostgresPool`
 * does).
 */
import pg from 'pg';

/** A connection pool: `pg.Pool` fits. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
}

/** A connection checked out of the pool: `pg.PoolClient` fits. */
export interface PgClientLike {
  query(config: PgQueryConfig): Promise<PgQueryResult>;
  /** Returns the connection; with an error (or `true`) the pool discards it instead. */
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PgQueryConfig {
  text: string;
  values?: unknown[];
  rowMode?: 'array';
  /** Result parsers for this query only, so the process-wide `pg.types` stay untouched. */
  types?: PgTypeParsers;
  /** `extended` sends Parse/Bind/Execute even without parameters: one statement per query. */
  queryMode?: 'extended';
}

export interface PgTypeParsers {
  getTypeParser(oid: number, format?: string): (value: string) => unknown;
}

export interface PgQueryResult {
  rows: unknown[];
  fields: Array<{ name: string; dataTypeID: number }>;
}

/** How long opening a connection may take before the server counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The pool the adapter opens when none is given. */
export function createPgPool(url: string): PgPoolLike {
  const pool = new pg.Pool({
    connectionString: url,
    // pg waits forever by default: an unroutable host would hang every call instead of failing.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'weir',
  });
  // An idle connection dropped by the server (restart, admin shutdown) is emitted here; without
  // a listener the process would crash. The pool has already discarded it and reconnects on the
  // next checkout, so there is nothing more to do.
  pool.on('error', () => {});
  return pool;
}

/** pg's own parser for a type, for the types the adapter does not override. */
export function defaultTypeParser(oid: number): (value: string) => unknown {
  return pg.types.getTypeParser(oid, 'text') as (value: string) => unknown;
}
