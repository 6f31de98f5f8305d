/**
 * The embedded StateStore: SQLite through Kysely over better-sqlite3.
 *
 * Several processes (collector workers, the CLI) open the same file, so the connection runs in
 * WAL mode (readers never wait for the writer) with a busy timeout (writers queue instead of
 * failing), and migrations run inside `BEGIN IMMEDIATE` so only one process applies them.
 *
 * Within one process, stores opened on the same file share one connection. better-sqlite3 is
 * synchronous: if a second connection in the same process waited for the write lock, its busy
 * wait would block the event loop and the first connection could never commit. Sharing the
 * connection lets Kysely's per-connection queue order them instead; it costs nothing, since a
 * synchronous driver gives no parallelism inside a process anyway.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type SqliteDatabase as KyselySqliteDatabase, type SqliteStatement } from 'kysely';
import { KyselyStateStore } from '../kysely-state-store.js';
import { migrateToLatest } from '../migrations.js';
import type { Database } from '../schema.js';
import type { StateStore } from '../state-store.js';

export interface SqliteStateStoreOptions {
  /** Path of the database file (created with its directory if missing), or `:memory:`. */
  file: string;
}

const BUSY_TIMEOUT_MS = 5000;

/** Prepared statements kept per connection; the store's statements are far fewer. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The connection as Kysely sees it, keeping prepared statements by their text: Kysely prepares
 * every query again, and preparing cost about as much as running the pipeline store's small
 * statements. Reusing one is safe because Kysely runs one query at a time per connection.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): KyselySqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string): SqliteStatement {
      let statement = cache.get(text);
      if (statement === undefined) {
        statement = sqlite.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

interface SharedConnection {
  db: Kysely<Database>;
  refs: number;
}

/** Open connections by absolute file path. `:memory:` databases are private and not listed. */
const connections = new Map<string, SharedConnection>();

function connect(file: string): Kysely<Database> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file, { timeout: BUSY_TIMEOUT_MS });
  // busy_timeout first: switching to WAL needs a lock that another process may hold.
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  sqlite.pragma('journal_mode = WAL');
  // In WAL mode NORMAL loses at most the last commits on power loss, never consistency; the
  // metadata here is small and rewritable, unlike the event log which does its own fsyncs.
  sqlite.pragma('synchronous = NORMAL');
  // Off by default in SQLite; on, so that references behave as they will on Postgres.
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

async function migrate(db: Kysely<Database>): Promise<void> {
  // Kysely's migration lock is a no-op on SQLite and its migrations run outside a transaction;
  // BEGIN IMMEDIATE takes the database write lock up front, so a second process waits here and
  // then finds nothing left to do, and a failed migration leaves no half-built schema.
  await db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      await migrateToLatest(conn, 'sqlite');
    } catch (err) {
      await sql`rollback`.execute(conn);
      throw err;
    }
    await sql`commit`.execute(conn);
  });
}

/**
 * Opens (creating if needed) the SQLite metadata database. Call `bootstrap()` before anything
 * else: it applies migrations. `close()` releases the connection.
 *
 * @example
 * ```ts
 * const state = await openSqliteStateStore({ file: '.weir/weir.sqlite' });
 * try {
 *   const { adminToken } = await state.bootstrap();
 *   if (adminToken) console.log(`admin token (shown once): ${adminToken}`);
 * } finally {
 *   await state.close();
 * }
 * ```
 */
export async function openSqliteStateStore(options: SqliteStateStoreOptions): Promise<StateStore> {
  const database = openSqliteDatabase(options);
  return new KyselyStateStore({ db: database.db, migrate, isUniqueViolation, destroy: database.release });
}

/** A metadata database connection for other stores of the same file (the pipeline store). */
export interface SqliteDatabase {
  db: Kysely<Database>;
  /** Applies pending migrations, one process at a time. */
  migrate(): Promise<void>;
  /** Gives the shared connection back; the last one closes it. Call once. */
  release(): Promise<void>;
}

/**
 * The process's shared connection to a metadata file (see the header on why it is shared),
 * for stores that live beside the StateStore.
 *
 * @example
 * ```ts
 * const { db, migrate, release } = openSqliteDatabase({ file: '.weir/weir.sqlite' });
 * await migrate();
 * const runs = await db.selectFrom('pipeline_runs').selectAll().execute();
 * await release();
 * ```
 */
export function openSqliteDatabase(options: SqliteStateStoreOptions): SqliteDatabase {
  const key = options.file === ':memory:' ? undefined : resolve(options.file);
  let shared = key === undefined ? undefined : connections.get(key);
  if (shared === undefined) {
    shared = { db: connect(options.file), refs: 0 };
    if (key !== undefined) connections.set(key, shared);
  }
  shared.refs += 1;
  const connection = shared;
  return {
    db: connection.db,
    migrate: () => migrate(connection.db),
    async release() {
      connection.refs -= 1;
      if (connection.refs > 0) return;
      if (key !== undefined && connections.get(key) === connection) connections.delete(key);
      await connection.db.destroy();
    },
  };
}
