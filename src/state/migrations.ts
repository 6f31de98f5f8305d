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
    '0010_pipelines': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('pipeline_runs')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('run_key', 'text')
          .addColumn('params', 'text', (c) => c.notNull())
          .addColumn('max_parallel', 'integer')
          .addColumn('stop_on_failure', 'integer', (c) => c.notNull())
          .addColumn('task_count', 'integer', (c) => c.notNull())
          .addColumn('unfinished', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .execute();
        await db.schema.createIndex('pipeline_runs_created_at_idx').on('pipeline_runs').column('created_at').execute();
        await db.schema.createIndex('pipeline_runs_run_key_idx').on('pipeline_runs').columns(['run_key', 'created_at']).execute();

        await db.schema
          .createTable('pipeline_tasks')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('run_id', 'text', (c) => c.notNull().references('pipeline_runs.id'))
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('partition_key', 'text', (c) => c.notNull())
          .addColumn('partition_start', 'text')
          .addColumn('partition_end', 'text')
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('queue_key', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('waiting_on', 'integer', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('abandons', 'integer', (c) => c.notNull())
          .addColumn('ready_at', 'text', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'text')
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addColumn('error_code', 'text')
          .addColumn('error', 'text')
          .addColumn('warnings', 'integer', (c) => c.notNull())
          .addUniqueConstraint('pipeline_tasks_run_model_partition_unique', ['run_id', 'model', 'partition_key'])
          .execute();
        // Claims walk the ready tasks in queue order and stop at the first they may take.
        await db.schema.createIndex('pipeline_tasks_state_queue_key_idx').on('pipeline_tasks').columns(['state', 'queue_key']).execute();
        await db.schema.createIndex('pipeline_tasks_run_id_state_idx').on('pipeline_tasks').columns(['run_id', 'state']).execute();
        await db.schema.createIndex('pipeline_tasks_model_idx').on('pipeline_tasks').columns(['model', 'finished_at']).execute();

        await db.schema
          .createTable('pipeline_task_deps')
          .addColumn('task_id', 'text', (c) => c.notNull())
          .addColumn('upstream_id', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('pipeline_task_deps_pk', ['task_id', 'upstream_id'])
          .execute();
        await db.schema.createIndex('pipeline_task_deps_upstream_id_idx').on('pipeline_task_deps').column('upstream_id').execute();

        await db.schema
          .createTable('pipeline_attempts')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('task_id', 'text', (c) => c.notNull())
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('worker', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .addColumn('error_code', 'text')
          .addColumn('error', 'text')
          .addColumn('log', 'text', (c) => c.notNull())
          // One row per attempt number: a task claimed twice at once could not record both.
          .addUniqueConstraint('pipeline_attempts_task_number_unique', ['task_id', 'number'])
          .execute();
        await db.schema.createIndex('pipeline_attempts_run_id_idx').on('pipeline_attempts').column('run_id').execute();

        await db.schema
          .createTable('pipeline_check_results')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('task_id', 'text', (c) => c.notNull())
          .addColumn('attempt_id', 'text', (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('partition_key', 'text', (c) => c.notNull())
          .addColumn('check_name', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('failing', 'bigint')
          .addColumn('detail', 'text')
          .addColumn('query', 'text', (c) => c.notNull())
          .addColumn('checked_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pipeline_check_results_task_id_idx').on('pipeline_check_results').column('task_id').execute();
        // A check's history: newest first per model and check.
        await db.schema
          .createIndex('pipeline_check_results_history_idx')
          .on('pipeline_check_results')
          .columns(['model', 'check_name', 'checked_at'])
          .execute();

        await db.schema
          .createTable('pipeline_triggers')
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('trigger_key', 'text', (c) => c.notNull())
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('fired_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('pipeline_triggers_pk', ['model', 'kind', 'trigger_key'])
          .execute();
      },
      async down(db: Kysely<any>): Promise<void> {
        for (const table of ['pipeline_triggers', 'pipeline_check_results', 'pipeline_attempts', 'pipeline_task_deps', 'pipeline_tasks', 'pipeline_runs']) {
          await db.schema.dropTable(table).execute();
        }
      },
    },
    '0011_users_sessions': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey().notNull())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('memberships')
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('memberships_pk', ['user_id', 'workspace_id'])
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('id_hash', 'text', (c) => c.primaryKey().notNull())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('csrf_token', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('last_seen_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();
        // Expired sessions are swept by expiry time.
        await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();
        // Shared by every collector process, so the sign-in throttle holds across all of them.
        await db.schema
          .createTable('login_failures')
          .addColumn('key', 'text', (c) => c.primaryKey().notNull())
          .addColumn('window_start', 'text', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<any>): Promise<void> {
        for (const table of ['login_failures', 'sessions', 'memberships', 'users']) await db.schema.dropTable(table).execute();
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
 * Applies every pending migration, or throws the first migration error. `schema` (Postgres) is
 * the schema the metadata and Kysely's bookkeeping tables live in, when not the default. It does
 * not serialise concurrent callers by itself on SQLite (Kysely's SQLite migration lock is a
 * no-op): the SQLite adapter runs it inside `BEGIN IMMEDIATE`.
 *
 * @example
 * ```ts
 * await migrateToLatest(db, 'sqlite');
 * ```
 */
export async function migrateToLatest(db: Kysely<any>, family: SqlFamily, schema?: string): Promise<void> {
  // Without a schema Kysely counts its bookkeeping tables in any schema of the database as its
  // own, and would skip creating them beside the metadata of a schema of its own.
  const migrator = new Migrator({ db, provider: new InMemoryMigrationProvider(family), migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`metadata migration ${failed ?? '(setup)'} failed: ${String((error as Error)?.message ?? error)}`, {
      cause: error,
    });
  }
}
