import { openPostgresDatabase, type PostgresDatabaseOptions } from '../../state/postgres/index.js';
import { openSqliteDatabase } from '../../state/sqlite/index.js';
import { PipelineStore } from './pipeline-store.js';

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
export async function openSqlitePipelineStore(options: { file: string }): Promise<PipelineStore> {
  const database = openSqliteDatabase(options);
  try {
    await database.migrate();
  } catch (err) {
    await database.release();
    throw err;
  }
  return new PipelineStore({ db: database.db, family: 'sqlite', release: database.release });
}

/**
 * The pipeline store on Postgres (several hosts' workers sharing the work), migrated.
 *
 * @example
 * ```ts
 * const store = await openPostgresPipelineStore({ url: 'postgres://weir@db/weir', schema: 'weir' });
 * ```
 */
export async function openPostgresPipelineStore(options: PostgresDatabaseOptions): Promise<PipelineStore> {
  const database = openPostgresDatabase(options);
  try {
    await database.migrate();
  } catch (err) {
    await database.release();
    throw err;
  }
  return new PipelineStore({ db: database.db, family: 'postgres', release: database.release });
}
