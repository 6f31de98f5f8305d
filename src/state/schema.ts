/**
 * The metadata database as Kysely sees it: one interface per table, column names as stored.
 *
 * Conventions that keep the schema identical on SQLite and Postgres:
 * - ids are text (`ws_…`, `src_…`, `adm_…`); only `failed_events.id` is database-generated.
 * - timestamps are ISO-8601 UTC text from `Date.prototype.toISOString()`. The fixed-width form
 *   sorts and compares correctly as text on every dialect; the store converts to `Date`.
 * - 64-bit integers (`bigint` columns, `count(*)`) come back as `number` from better-sqlite3 and
 *   as `string` from node-postgres, so their select type admits both and the store applies
 *   `Number()`.
 *
 * @example
 * ```ts
 * const db = new Kysely<Database>({ dialect });
 * const rows = await db.selectFrom('sources').select(['id', 'name']).execute();
 * ```
 */
import type { ColumnType } from 'kysely';

/** A 64-bit integer: written as a number, read as whatever the driver returns. */
export type Int64 = ColumnType<number | string | bigint, number, number>;

export interface WorkspacesTable {
  id: string;
  /** Unique. The workspace named `default` is the one bootstrap creates. */
  name: string;
  created_at: string;
  /** JSON text of {@link WorkspaceSettings}. */
  settings: ColumnType<string, string | undefined, string>;
}

export interface SourcesTable {
  id: string;
  workspace_id: string;
  /** Unique within a workspace. */
  name: string;
  /** Unique; public, ingest only. */
  write_key: string;
  created_at: string;
  /** JSON text of {@link SourceSettings}; `{}` means every default. */
  settings: ColumnType<string, string | undefined, string>;
}

export interface AdminTokensTable {
  id: string;
  /** sha256 hex of the plain token; the plain token is never stored. */
  token_hash: string;
  created_at: string;
}

export interface FailedEventsTable {
  /** Database-generated; never written by the store. */
  id: ColumnType<number | string | bigint, never, never>;
  source_id: string;
  reason: string;
  message: string;
  message_id: string | null;
  payload: string;
  received_at: string;
  log_partition: number;
  log_offset: Int64;
  created_at: string;
  /** ISO time of the last replay into the event log; null if never replayed. */
  replayed_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface LakeFilesTable {
  /** The object's key in the lake's blob store. */
  key: string;
  source_id: string;
  workspace_id: string;
  /** `events` (written by the lake writer) or `upload` (an imported file). */
  kind: string;
  /** YYYY-MM-DD of the Hive partition (`date=`); the upload day for uploads. */
  date: string;
  log_partition: number;
  first_offset: Int64;
  last_offset: Int64;
  events: Int64;
  bytes: Int64;
  /** `planned` (cut, upload not confirmed) or `stored`. */
  state: string;
  created_at: string;
}

export interface UsageHourlyTable {
  source_id: string;
  /** ISO hour start, e.g. `2026-11-22T14:00:00.000Z`. */
  hour: string;
  workspace_id: string;
  accepted: Int64;
  failed: Int64;
  bytes: Int64;
}

export interface ConsumerPositionsTable {
  consumer: string;
  log_partition: number;
  next_offset: Int64;
}

/** Kysely's own bookkeeping tables, created by its `Migrator`. */
export interface KyselyMigrationTable {
  name: string;
  timestamp: string;
}

export interface KyselyMigrationLockTable {
  id: string;
  is_locked: number;
}

export interface Database {
  workspaces: WorkspacesTable;
  sources: SourcesTable;
  admin_tokens: AdminTokensTable;
  failed_events: FailedEventsTable;
  lake_files: LakeFilesTable;
  usage_hourly: UsageHourlyTable;
  consumer_positions: ConsumerPositionsTable;
  kysely_migration: KyselyMigrationTable;
  kysely_migration_lock: KyselyMigrationLockTable;
}
