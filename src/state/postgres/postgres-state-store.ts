/**
 * The StateStore on Postgres: the shared {@link KyselyStateStore} over the same migrations as
 * SQLite, for installations whose processes run on several hosts.
 *
 * What differs from SQLite is only connection handling: a pool instead of one shared
 * connection, Kysely's advisory lock (not `BEGIN IMMEDIATE`) to keep concurrent migrations
 * apart, and the SQLSTATE of a unique violation. Everything the queries rely on is portable by
 * construction (see `schema.ts`): text ids, ISO-8601 text timestamps, JSON as text, `bigint`
 * read back through `Number()`, `on conflict … do nothing | do update`, `returning`.
 */
import { KyselyStateStore } from '../kysely-state-store.js';
import type { StateStore } from '../state-store.js';
import { openPostgresDatabase, type PostgresDatabaseOptions } from './postgres-database.js';

/** SQLSTATE `unique_violation`. */
const UNIQUE_VIOLATION = '23505';

/** True when `err` is Postgres refusing a duplicate key. */
export function isPostgresUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === UNIQUE_VIOLATION;
}

/**
 * Opens the metadata store on a Postgres database (in `options.schema` when given, created if
 * missing). Nothing connects before the first query; `bootstrap()` applies migrations.
 *
 * @example
 * ```ts
 * const state = await openPostgresStateStore({ url: 'postgres://weir@db:5432/weir', schema: 'weir' });
 * const { source } = await state.bootstrap();
 * await state.close();
 * ```
 */
export async function openPostgresStateStore(options: PostgresDatabaseOptions): Promise<StateStore> {
  const database = openPostgresDatabase(options);
  return new KyselyStateStore({
    db: database.db,
    migrate: () => database.migrate(),
    isUniqueViolation: isPostgresUniqueViolation,
    destroy: database.release,
  });
}
