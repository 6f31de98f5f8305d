/**
 * What `/api/pipelines…` answers (src/api/pipeline-routes.ts). Runs, tasks, attempts and check
 * results are the store's own JSON types, imported as types only (nothing of the server is
 * bundled); model headers are declared here, as the API shapes them.
 */
import type { AttemptView, CheckResultView, ModelLastRun, RunDetail, RunView, TaskState, TaskView } from '../../../src/pipelines/store/types.js';

export type { AttemptView, CheckResultView, RunView, TaskState, TaskView };
export type LastRun = ModelLastRun;

export interface CheckHeader {
  name: string;
  kind: string;
  severity: 'warn' | 'error';
  line: number;
  [detail: string]: unknown;
}

export interface ModelView {
  name: string;
  file: string;
  kind: 'sql' | 'shell';
  materialized: string | null;
  partition: 'hourly' | 'daily' | 'none';
  trigger: { kind: 'manual' } | { kind: 'schedule'; cron: string } | { kind: 'watermark'; latenessMs: number };
  start: string | null;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
  description: string | null;
  upstream: string[];
  schema: string | null;
  partitionBy: string | null;
  checks: CheckHeader[];
}

export interface Problem {
  code: string;
  file: string;
  line: number;
  message: string;
}

export interface GraphResponse {
  models: Array<ModelView & { last: LastRun | null; running: boolean }>;
  order: string[];
  problems: Problem[];
  canRun: boolean;
}

export interface RunResponse {
  run: RunDetail;
  attempts: AttemptView[];
  checks: CheckResultView[];
  /** The server's clock, for the Gantt chart's "now" line. */
  now: string;
}

export interface ModelResponse {
  model: ModelView;
  lastRuns: LastRun[];
  checks: CheckResultView[];
}

/** The colour class of a task, attempt or run state (see pipelines.css). */
export function stateClass(state: string | null | undefined): string {
  switch (state) {
    case 'succeeded':
    case 'pass':
      return 'st-ok';
    case 'failed':
    case 'check_failed':
    case 'timed_out':
    case 'fail':
      return 'st-bad';
    case 'upstream_failed':
    case 'abandoned':
      return 'st-warn';
    case 'running':
      return 'st-run';
    case 'skipped':
    case 'cancelled':
      return 'st-skip';
    case 'pending':
    case 'ready':
      return 'st-wait';
    default:
      return 'st-none';
  }
}

/** `12.3 s`, `4 min 5 s`, `250 ms`. */
export function span(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return m < 60 ? `${m} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `2026-01-31 10:00:05` from an ISO time, in UTC as the server records it. */
export function when(iso: string | null): string {
  return iso ? iso.replace('T', ' ').slice(0, 19) : '';
}
