/**
 * What the pipeline store records and answers, as JSON-friendly values (times as ISO strings),
 * so the CLI, the HTTP API and the UI can pass them on unchanged.
 */
import type { Partition } from '../partitions.js';

export type RunKind = 'manual' | 'schedule' | 'watermark' | 'backfill';
export type RunState = 'running' | 'succeeded' | 'failed';

/**
 * - `pending`: waits for upstream tasks of its run; `ready`: may be claimed (after `readyAt`);
 *   `running`: claimed by a worker holding its lease;
 * - `succeeded` (warn-severity checks may have failed: see `warnings`), `failed` (after its
 *   retries), `check_failed` (an error-severity check failed), `upstream_failed` (something it
 *   depends on did not succeed), `skipped` (the run stopped at a failure first).
 */
export type TaskState = 'pending' | 'ready' | 'running' | 'succeeded' | 'failed' | 'check_failed' | 'upstream_failed' | 'skipped';

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'check_failed', 'upstream_failed', 'skipped']);
/** The terminal states other than success: what `retry` runs again. */
export const UNSUCCESSFUL_STATES: readonly TaskState[] = ['failed', 'check_failed', 'upstream_failed', 'skipped'];

export type AttemptState = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'check_failed' | 'abandoned' | 'cancelled';

/** One task of a run to be created. */
export interface PlannedTask {
  model: string;
  partition: Partition;
  /** Indexes into the plan's tasks of the tasks this one waits for. */
  upstream: number[];
}

export interface RunPlan {
  kind: RunKind;
  /** What was asked, for people and for `status` (JSON). */
  params: Record<string, unknown>;
  /** Backfills: the same command has the same key, so running it again resumes. */
  runKey?: string;
  maxParallel?: number;
  stopOnFailure: boolean;
  /** In claim order: upstream tasks before downstream ones. */
  tasks: PlannedTask[];
}

/** A task a worker has claimed: it holds the lease until it finishes or stops renewing. */
export interface ClaimedTask {
  id: string;
  runId: string;
  model: string;
  partition: Partition;
  /** The attempt's number (1 for the first). */
  attempt: number;
  attemptId: string;
  /** Failed attempts before this one. */
  failures: number;
}

export interface PartitionView {
  key: string;
  start: string | null;
  end: string | null;
}

export interface RunView {
  id: string;
  kind: RunKind;
  state: RunState;
  runKey: string | null;
  params: Record<string, unknown>;
  maxParallel: number | null;
  stopOnFailure: boolean;
  taskCount: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Tasks per state. */
  counts: Partial<Record<TaskState, number>>;
}

export interface TaskView {
  id: string;
  runId: string;
  model: string;
  partition: PartitionView;
  state: TaskState;
  attempts: number;
  failures: number;
  readyAt: string;
  leaseOwner: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  errorCode: string | null;
  error: string | null;
  warnings: number;
  /** Ids of the tasks of the same run this one waited for. */
  upstream: string[];
}

export interface RunDetail extends RunView {
  tasks: TaskView[];
}

export interface AttemptView {
  id: string;
  taskId: string;
  runId: string;
  number: number;
  worker: string;
  state: AttemptState;
  startedAt: string;
  finishedAt: string | null;
  errorCode: string | null;
  error: string | null;
}

export interface CheckResultView {
  id: string;
  runId: string;
  taskId: string;
  attemptId: string;
  model: string;
  partitionKey: string;
  check: string;
  kind: string;
  severity: 'warn' | 'error';
  status: 'pass' | 'fail';
  failing: number | null;
  detail: string | null;
  query: string;
  checkedAt: string;
}

/** A check's outcome as a task records it. */
export type NewCheckResult = Pick<CheckResultView, 'check' | 'kind' | 'severity' | 'status' | 'failing' | 'detail' | 'query'>;

/** The newest finished task of a model, for `weir pipelines list`. */
export interface ModelLastRun {
  model: string;
  runId: string;
  partitionKey: string;
  state: TaskState;
  finishedAt: string;
}
