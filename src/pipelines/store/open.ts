import type { SqlFamily } from '../../state/migrations.js';
import { openPostgresDatabase, type PostgresDatabaseOptions } from '../../state/postgres/index.js';
import { openSqliteDatabase } from '../../state/sqlite/index.js';
import { PipelineStore } from './pipeline-store.js';

/** The store over a migrated database; the connection is given back if migrating fails. */
async function migrated(database: ReturnType<typeof openSqliteDatabase>, family: SqlFamily): Promise<PipelineStore> {
  try {
    await database.migrate();
  } catch (err) {
    await database.release();
    throw err;
  }
  return new PipelineStore({ db: database.db, family, release: database.release });
}

/**
 * The pipeline store in the SQLite metadata file (the embedded default), migrated. It shares the
 * process's connection to the file with the StateStore.
 *
 * @example
 * ```ts
 * const store = await openSqlitePipelineStore({ file: '.weir/weir.sqlite' });
 * const runs = await store.listRuns({ limit: 10 });
 * await store.close();
 * ```
 */
export function openSqlitePipelineStore(options: { file: string }): Promise<PipelineStore> {
  return migrated(openSqliteDatabase(options), 'sqlite');
}

/**
 * The pipeline store on Postgres (several hosts' workers sharing the work), migrated.
 *
 * @example
 * ```ts
 * const store = await openPostgresPipelineStore({ url: 'postgres://weir@db/weir', schema: 'weir' });
 * ```
 */
export function openPostgresPipelineStore(options: PostgresDatabaseOptions): Promise<PipelineStore> {
  return migrated(openPostgresDatabase(options), 'postgres');
}
