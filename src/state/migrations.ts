/**
 * The metadata schema as migrations in code, written with Kysely's schema builder so the same
 * list runs on SQLite and Postgres. Migrations take `Kysely<any>` on purpose: they describe the
 * schema as it was when they were written, not as `Database` says it is today.
 *
 * Append new migrations with a name that sorts after the last one; never edit a shipped one.
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * The SQL families the migrations know. Almost everything is shared; the few column definitions
 * that differ (an auto-numbered key) switch on this.
 */
export type SqlFamily = 'sqlite' | 'postgres';

function migrations(family: SqlFamily): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('workspaces')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('sources')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('write_key', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('sources_workspace_id_name_unique', ['workspace_id', 'name'])
          .execute();
        // getSource() also looks sources up by name across workspaces.
        await db.schema.createIndex('sources_name_idx').on('sources').column('name').execute();

        await db.schema
          .createTable('admin_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        // No foreign key to sources: failed events come from the log and must be storable even
        // if their source has gone since the event was received.
        await db.schema
          .createTable('failed_events')
          .addColumn('id', family === 'postgres' ? 'bigserial' : 'integer', (c) =>
            // AUTOINCREMENT keeps SQLite from reusing the id of a deleted newest row, so an id
            // seen in the UI never comes to mean another event.
            family === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('source_id', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text')
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('received_at', 'text', (c) => c.notNull())
          .addColumn('log_partition', 'integer', (c) => c.notNull())
          .addColumn('log_offset', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          // The log may deliver a record again after a crash; this makes the insert idempotent.
          .addUniqueConstraint('failed_events_log_position_unique', ['log_partition', 'log_offset'])
          .execute();
        await db.schema
          .createIndex('failed_events_source_id_received_at_idx')
          .on('failed_events')
          .columns(['source_id', 'received_at'])
          .execute();
        // (reason, received_at) serves both the reason filter and its newest-first ordering.
        await db.schema
          .createIndex('failed_events_reason_received_at_idx')
          .on('failed_events')
          .columns(['reason', 'received_at'])
          .execute();
        // The unfiltered listing (`weir failed list`) is newest first over everything.
        await db.schema
          .createIndex('failed_events_received_at_idx')
          .on('failed_events')
          .column('received_at')
          .execute();
      },
      async down(db: Kysely<any>): Promise<void> {
        await db.schema.dropTable('failed_events').execute();
        await db.schema.dropTable('admin_tokens').execute();
        await db.schema.dropTable('sources').execute();
        await db.schema.dropTable('workspaces').execute();
      },
    },
    '0002_settings_lake_usage': {
      async up(db: Kysely<any>): Promise<void> {
        // Per-source and per-workspace settings as JSON text: validated by the store against
        // `settings.ts`, so adding a setting needs no migration.
        await db.schema.alterTable('sources').addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema.alterTable('workspaces').addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}')).execute();

        // Every lake object the lake writer planned or uploaded. The plan is written before the
        // upload, so a writer restarted after a crash cuts its files at the same offsets and
        // rewrites the same objects instead of adding duplicates.
        await db.schema
          .createTable('lake_files')
          .addColumn('key', 'text', (c) => c.primaryKey().notNull())
          .addColumn('source_id', 'text', (c) => c.notNull())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('date', 'text', (c) => c.notNull())
          .addColumn('log_partition', 'integer', (c) => c.notNull())
          .addColumn('first_offset', 'bigint', (c) => c.notNull())
          .addColumn('last_offset', 'bigint', (c) => c.notNull())
          .addColumn('events', 'bigint', (c) => c.notNull())
          .addColumn('bytes', 'bigint', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('lake_files_partition_last_idx').on('lake_files').columns(['log_partition', 'last_offset']).execute();
        await db.schema.createIndex('lake_files_source_date_idx').on('lake_files').columns(['source_id', 'date']).execute();
        await db.schema.createIndex('lake_files_workspace_idx').on('lake_files').column('workspace_id').execute();

        // Usage per source and hour, counted from the log; the positions counted so far are kept
        // in the same transaction as the counts, so a restart neither loses nor repeats a count.
        await db.schema
          .createTable('usage_hourly')
          .addColumn('source_id', 'text', (c) => c.notNull())
          .addColumn('hour', 'text', (c) => c.notNull())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('accepted', 'bigint', (c) => c.notNull())
          .addColumn('failed', 'bigint', (c) => c.notNull())
          .addColumn('bytes', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_hourly_pk', ['source_id', 'hour'])
          .execute();
        await db.schema.createIndex('usage_hourly_workspace_hour_idx').on('usage_hourly').columns(['workspace_id', 'hour']).execute();
        await db.schema
          .createTable('consumer_positions')
          .addColumn('consumer', 'text', (c) => c.notNull())
          .addColumn('log_partition', 'integer', (c) => c.notNull())
          .addColumn('next_offset', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('consumer_positions_pk', ['consumer', 'log_partition'])
          .execute();
      },
      async down(db: Kysely<any>): Promise<void> {
        await db.schema.dropTable('consumer_positions').execute();
        await db.schema.dropTable('usage_hourly').execute();
        await db.schema.dropTable('lake_files').execute();
        await db.schema.alterTable('workspaces').dropColumn('settings').execute();
        await db.schema.alterTable('sources').dropColumn('settings').execute();
      },
    },
    '0003_failed_replayed': {
      async up(db: Kysely<any>): Promise<void> {
        // Set by `weir failed replay`, so listings show what was replayed and a second replay
        // skips it unless asked to repeat it.
        await db.schema.alterTable('failed_events').addColumn('replayed_at', 'text').execute();
      },
      async down(db: Kysely<any>): Promise<void> {
        await db.schema.alterTable('failed_events').dropColumn('replayed_at').execute();
      },
    },
  };
}

/** Serves the migrations above to Kysely's `Migrator` without touching the file system. */
export class InMemoryMigrationProvider implements MigrationProvider {
  readonly #family: SqlFamily;

  constructor(family: SqlFamily) {
    this.#family = family;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.#family);
  }
}

/**
 * Applies every pending migration, or throws the first migration error. It does not serialise
 * concurrent callers by itself on SQLite (Kysely's SQLite migration lock is a no-op): the SQLite
 * adapter runs it inside `BEGIN IMMEDIATE`.
 *
 * @example
 * ```ts
 * await migrateToLatest(db, 'sqlite');
 * ```
 */
export async function migrateToLatest(db: Kysely<any>, family: SqlFamily): Promise<void> {
  const migrator = new Migrator({ db, provider: new InMemoryMigrationProvider(family) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`metadata migration ${failed ?? '(setup)'} failed: ${String((error as Error)?.message ?? error)}`, {
      cause: error,
    });
  }
}
