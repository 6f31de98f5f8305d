/**
 * What the pipelines folder defines, after parsing and validation: SQL models and shell steps,
 * each with its header settings, its dependencies and where in its file each came from.
 */
import type { ErrorCode } from '../../errors/catalogue.js';
import type { Template } from './template.js';

export type Materialized = 'table' | 'incremental' | 'view';

/** How a model's work is cut in time: one task per hour, per day, or one task for everything. */
export type Grain = 'hourly' | 'daily' | 'none';

export type Severity = 'warn' | 'error';

export type Trigger =
  | { kind: 'manual' }
  /** A cron expression in UTC (croner syntax). */
  | { kind: 'schedule'; cron: string }
  /** A partition runs once the loader's watermark passes its end plus `latenessMs`. */
  | { kind: 'watermark'; latenessMs: number };

interface CheckBase {
  /** Stable name, the key of the check's history: `not_null(session_id)`, `sql_1`, or the header's `name`. */
  name: string;
  severity: Severity;
  /** Line of the check in its file. */
  line: number;
}

export type CheckSpec = CheckBase &
  (
    | { kind: 'not_null'; column: string }
    /** The combination of the columns is unique. */
    | { kind: 'unique'; columns: string[] }
    | { kind: 'accepted_values'; column: string; values: Array<string | number | boolean> }
    | { kind: 'row_count'; min?: number; max?: number }
    /** The newest `column` is at most `maxAgeMs` older than the partition's end (or now, unpartitioned). */
    | { kind: 'freshness'; column: string; maxAgeMs: number }
    /** SQL that must return no rows. */
    | { kind: 'sql'; template: Template }
  );

interface ModelBase {
  name: string;
  /** Path relative to the pipelines folder, as problems and the UI show it. */
  file: string;
  /** Absolute path. */
  path: string;
  partition: Grain;
  trigger: Trigger;
  /** First partition a watermark trigger runs; without it, the first due partition. */
  start?: Date;
  /** Attempts after the first. */
  retries: number;
  /** Wait before the first retry; each further retry waits twice as long (plus jitter). */
  retryDelayMs: number;
  timeoutMs: number;
  description?: string;
  /** Models this one runs after: its refs (in the SQL and its checks) and `depends_on`. */
  upstream: string[];
  /** The file line where each upstream model is first named. */
  upstreamLine: Map<string, number>;
}

export interface SqlModel extends ModelBase {
  kind: 'sql';
  materialized: Materialized;
  /** The column an incremental model's partitions are cut on. */
  partitionBy?: string;
  /** Schema the model's table or view is built in. */
  schema: string;
  /** The SQL after the header. */
  template: Template;
  checks: CheckSpec[];
}

export interface ShellStep extends ModelBase {
  kind: 'shell';
  /** Program and arguments the script is run with (from its `#!` line, else `/bin/sh`). */
  interpreter: string[];
}

export type Model = SqlModel | ShellStep;

/** A problem in the definitions, as a value: the CLI prints them all at once. */
export interface Problem {
  code: ErrorCode;
  /** Relative to the pipelines folder. */
  file: string;
  line: number;
  message: string;
}

export interface Project {
  dir: string;
  models: Map<string, Model>;
  /** Model names, every model after the models it depends on (ties by name). */
  order: string[];
  /** Sorted by file and line; the project should not run while there are any. */
  problems: Problem[];
}
