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

/** A run of pipeline tasks: manual, scheduled, triggered by the watermark, or a backfill. */
export interface PipelineRunsTable {
  id: string;
  kind: string;
  /** running | succeeded | failed */
  state: string;
  /** Same command, same key: a backfill run again continues the unfinished run of its key. */
  run_key: string | null;
  /** What the run was asked to do (JSON): models, window, options. */
  params: string;
  /** Tasks of this run running at once, across workers; null for no limit. */
  max_parallel: number | null;
  /** 1: the first failed task marks the tasks not started yet `skipped`. */
  stop_on_failure: number;
  task_count: number;
  /** Tasks pending, ready or running; the task that brings it to 0 finishes the run. */
  unfinished: number;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** One model × partition of a run. */
export interface PipelineTasksTable {
  id: string;
  run_id: string;
  model: string;
  /** `2026-01-02`, `2026-01-02T10`, `` (unpartitioned) or `full`. */
  partition_key: string;
  partition_start: string | null;
  partition_end: string | null;
  /** Order within the run: partitions oldest first, then models in dependency order. */
  seq: number;
  /** Claim order across runs: the run's creation time, then `seq` (zero-padded). */
  queue_key: string;
  /** pending | ready | running | succeeded | failed | check_failed | upstream_failed | skipped */
  state: string;
  /** Upstream tasks of this run that have not succeeded yet. */
  waiting_on: number;
  /** Attempts started; the number of the latest. */
  attempts: number;
  /** Attempts that failed or timed out, against the model's retries. */
  failures: number;
  /** Attempts whose worker stopped renewing the lease. */
  abandons: number;
  /** Not claimed before this time (retry backoff). */
  ready_at: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  error_code: string | null;
  error: string | null;
  /** Warn-severity checks that failed in the successful attempt. */
  warnings: number;
}

export interface PipelineTaskDepsTable {
  task_id: string;
  upstream_id: string;
}

export interface PipelineAttemptsTable {
  id: string;
  task_id: string;
  run_id: string;
  number: number;
  /** Worker id: host:pid:random. */
  worker: string;
  /** running | succeeded | failed | timed_out | check_failed | abandoned | cancelled */
  state: string;
  started_at: string;
  finished_at: string | null;
  error_code: string | null;
  error: string | null;
  /** What the attempt printed or ran (SQL statements, shell output), the newest part when long. */
  log: string;
}

export interface PipelineCheckResultsTable {
  id: string;
  run_id: string;
  task_id: string;
  attempt_id: string;
  model: string;
  partition_key: string;
  check_name: string;
  kind: string;
  severity: string;
  /** pass | fail */
  status: string;
  /** Rows that broke the check (the row count itself for row_count); null for freshness. */
  failing: number | null;
  detail: string | null;
  query: string;
  checked_at: string;
}

/** Each scheduled tick and each watermark partition of a model fires once. */
export interface PipelineTriggersTable {
  model: string;
  /** schedule | watermark */
  kind: string;
  /** The tick's ISO time, or the partition's key. */
  trigger_key: string;
  run_id: string;
  fired_at: string;
}

/** People who sign in to the web UI. */
export interface UsersTable {
  id: string;
  /** Unique; stored lower-cased, so uniqueness and look-ups ignore case. */
  email: string;
  /** `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url salt and hash): the parameters travel with the hash. */
  password_hash: string;
  created_at: string;
}

/** A user's role in one workspace. */
export interface MembershipsTable {
  user_id: string;
  workspace_id: string;
  /** viewer | editor | admin */
  role: string;
}

/** Web UI sessions. The session id lives only in the browser's cookie; this keeps its sha256. */
export interface SessionsTable {
  /** sha256 hex of the session id. */
  id_hash: string;
  user_id: string;
  /** Sent back by the UI in `x-weir-csrf` on every change. */
  csrf_token: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
}

/** Failed sign-ins per throttle key (email and client address) in the current window. */
export interface LoginFailuresTable {
  key: string;
  window_start: string;
  failures: number;
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
  pipeline_runs: PipelineRunsTable;
  pipeline_tasks: PipelineTasksTable;
  pipeline_task_deps: PipelineTaskDepsTable;
  pipeline_attempts: PipelineAttemptsTable;
  pipeline_check_results: PipelineCheckResultsTable;
  pipeline_triggers: PipelineTriggersTable;
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  kysely_migration: KyselyMigrationTable;
  kysely_migration_lock: KyselyMigrationLockTable;
}
