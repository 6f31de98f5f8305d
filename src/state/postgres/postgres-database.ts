/**
 * The metadata database on Postgres, for running Weir's metadata (today: the pipeline store)
 * on a shared server: the same Kysely schema and migrations as SQLite.
 */
import { Kysely } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../migrations.js';
import { ScopedPostgresDialect } from './scoped-introspector.js';
import type { Database } from '../schema.js';

export interface PostgresDatabaseOptions {
  /** `postgres://user@host:5432/database`. */
  url: string;
  /**
   * Schema the metadata tables live in (created when missing); default the role's search path.
   * Lets several Weir installations, or tests, share one database.
   */
  schema?: string;
  /** Connections in the pool; default 10. */
  poolSize?: number;
}

export interface PostgresDatabase {
  db: Kysely<Database>;
  /** Applies pending migrations; concurrent processes wait on Kysely's advisory lock. */
  migrate(): Promise<void>;
  /** Closes the pool. */
  release(): Promise<void>;
}

/**
 * Opens a pool on the metadata database. Nothing connects before the first query.
 *
 * @example
 * ```ts
 * const meta = openPostgresDatabase({ url: 'postgres://weir@db/weir', schema: 'weir' });
 * await meta.migrate();
 * ```
 */
export function openPostgresDatabase(options: PostgresDatabaseOptions): PostgresDatabase {
  const schema = options.schema;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    application_name: 'weir-metadata',
    // Every connection finds the metadata tables, and Kysely's own, in the schema.
    options: schema === undefined ? undefined : `-c search_path=${pg.escapeIdentifier(schema)}`,
  });
  // Idle connections the server drops are reported here; the pool replaces them on demand.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new ScopedPostgresDialect({ pool }, schema) });
  return {
    db,
    async migrate() {
      if (schema !== undefined) {
        const client = await pool.connect();
        try {
          await client.query(`create schema if not exists ${pg.escapeIdentifier(schema)}`);
        } catch (err) {
          // Two processes creating it at once: it exists.
          if ((err as { code?: string }).code !== '23505' && (err as { code?: string }).code !== '42P06') throw err;
        } finally {
          client.release();
        }
      }
      await migrateToLatest(db, 'postgres', schema);
    },
    release: () => db.destroy(),
  };
}
