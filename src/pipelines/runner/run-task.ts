/**
 * One attempt of one task: a SQL model (materialise, then check) or a shell step, within the
 * task's deadline. The outcome is a value; this never throws, so the worker records every
 * attempt, whatever went wrong.
 */
import { WeirError } from '../../errors/catalogue.js';
import type { Warehouse } from '../../warehouse/warehouse.js';
import type { Model, Project, ShellStep, SqlModel } from '../definitions/model.js';
import { renderTemplate, type Expression, type Template } from '../definitions/template.js';
import { checkQueries } from '../sql/checks.js';
import type { SqlDialect } from '../sql/dialect.js';
import { createIncrementalSql, replacePartitionSql, selectBody, tableSql, viewSql, windowed, type Target, type Window } from '../sql/materialize.js';
import type { ClaimedTask, NewCheckResult } from '../store/types.js';
import { runProgram } from './shell.js';
import type { ShellLauncher } from './launcher.js';

export interface TaskEnvironment {
  warehouse: Warehouse;
  dialect: SqlDialect;
  project: Project;
  /** Schema of `source('table')` without a schema. */
  sourceSchema: string;
  /** Starts shell steps; without one they are started from this process. */
  launcher?: ShellLauncher;
}

export type TaskOutcome =
  | { kind: 'succeeded'; log: string; warnings: number; checks: NewCheckResult[] }
  | { kind: 'check_failed'; log: string; checks: NewCheckResult[]; error: string }
  /** `final`: another attempt cannot help (the model is gone). */
  | { kind: 'failed'; log: string; errorCode: string; error: string; timedOut: boolean; final: boolean; checks: NewCheckResult[] }
  /** The worker is stopping or lost the lease: nothing to record as the task's doing. */
  | { kind: 'cancelled'; log: string };

/** The partition as people read it in messages: `2026-01-02`, or nothing for unpartitioned. */
export function partitionLabel(task: Pick<ClaimedTask, 'partition'>): string {
  return task.partition.key === '' ? '' : task.partition.key;
}

class Deadline {
  constructor(
    readonly at: number,
    readonly timeoutMs: number,
  ) {}

  /** Time left, or a timeout error when none is. */
  left(task: ClaimedTask): number {
    const ms = this.at - Date.now();
    if (ms <= 0) throw timeoutError(task, this.timeoutMs);
    return ms;
  }
}

function timeoutError(task: ClaimedTask, timeoutMs: number): WeirError {
  return new WeirError('WEIR_PIPELINE_TASK_TIMEOUT', { model: task.model, partition: partitionLabel(task), timeoutMs });
}

/** Collects what an attempt did, with timings, as its log. */
class AttemptLog {
  private readonly lines: string[] = [];
  private readonly started = Date.now();

  line(text: string): void {
    const s = ((Date.now() - this.started) / 1000).toFixed(3);
    this.lines.push(`[+${s}s] ${text}`);
  }

  toString(): string {
    return this.lines.join('\n');
  }
}

/**
 * Runs one attempt of a claimed task.
 *
 * @example
 * ```ts
 * const outcome = await runTask(env, task, project.models.get(task.model), signal);
 * ```
 */
export async function runTask(env: TaskEnvironment, task: ClaimedTask, model: Model | undefined, signal: AbortSignal): Promise<TaskOutcome> {
  if (!model) {
    const err = new WeirError('WEIR_PIPELINE_NOT_FOUND', { model: task.model });
    return { kind: 'failed', log: err.message, errorCode: err.code, error: err.message, timedOut: false, final: true, checks: [] };
  }
  const deadline = new Deadline(Date.now() + model.timeoutMs, model.timeoutMs);
  return model.kind === 'shell' ? runShellStep(env, task, model, deadline, signal) : runSqlModel(env, task, model, deadline, signal);
}

async function runShellStep(env: TaskEnvironment, task: ClaimedTask, step: ShellStep, deadline: Deadline, signal: AbortSignal): Promise<TaskOutcome> {
  const extra: Record<string, string> = {
    WEIR_MODEL: step.name,
    WEIR_RUN_ID: task.runId,
    WEIR_TASK_ID: task.id,
    WEIR_ATTEMPT: String(task.attempt),
    WEIR_PARTITION: task.partition.key,
    WEIR_PIPELINES_DIR: env.project.dir,
    WEIR_WAREHOUSE_ENGINE: env.warehouse.engine,
  };
  if (task.partition.start && task.partition.end) {
    extra.START = task.partition.start.toISOString();
    extra.END = task.partition.end.toISOString();
  }
  const argv = [...step.interpreter, step.path];
  const options = { cwd: env.project.dir, timeoutMs: deadline.timeoutMs, signal };
  const r = env.launcher ? await env.launcher.run(argv, { ...options, env: extra }) : await runProgram(argv, { ...options, env: { ...process.env, ...extra } });
  if (r.aborted) return { kind: 'cancelled', log: r.output };
  if (r.timedOut) {
    const err = timeoutError(task, deadline.timeoutMs);
    return { kind: 'failed', log: r.output, errorCode: err.code, error: err.message, timedOut: true, final: false, checks: [] };
  }
  if (r.code === 0) return { kind: 'succeeded', log: r.output, warnings: 0, checks: [] };
  const detail = r.code === null ? `killed by ${r.signal}` : `exit code ${r.code}`;
  const err = new WeirError('WEIR_PIPELINE_STEP_FAILED', { model: step.name, partition: partitionLabel(task), detail });
  return { kind: 'failed', log: r.output, errorCode: err.code, error: err.message, timedOut: false, final: false, checks: [] };
}

async function runSqlModel(env: TaskEnvironment, task: ClaimedTask, model: SqlModel, deadline: Deadline, signal: AbortSignal): Promise<TaskOutcome> {
  const { warehouse, dialect: d } = env;
  const log = new AttemptLog();
  const target: Target = { schema: model.schema, table: model.name };
  const window: Window | undefined = task.partition.start && task.partition.end ? { start: task.partition.start, end: task.partition.end } : undefined;
  const render = (template: Template) => renderTemplate(template, (e) => resolve(env, target, window, e));
  const execute = async (sql: string) => {
    log.line(sql);
    const started = Date.now();
    await warehouse.execute(sql, { schema: model.schema, timeoutMs: deadline.left(task) });
    log.line(`done in ${Date.now() - started} ms`);
  };
  const checks: NewCheckResult[] = [];
  // Once a statement has started the attempt runs to its end (warehouse statements cannot be
  // called back, and one that committed must be recorded, or the task would run again); a
  // stopping worker waits for it, bounded by the model's timeout.
  if (signal.aborted) return { kind: 'cancelled', log: '' };
  try {
    log.line(`${model.name} ${task.partition.key || '(unpartitioned)'}: ${model.materialized} in ${model.schema}, attempt ${task.attempt} on ${warehouse.engine}`);
    const body = selectBody(render(model.template));
    await warehouse.ensureSchema(model.schema);
    const incremental = model.materialized === 'incremental' && model.partitionBy !== undefined && window !== undefined;
    if (model.materialized === 'view') await execute(viewSql(d, target, body));
    else if (!incremental) await execute(tableSql(d, target, body));
    else if (task.partition.key === 'full') await execute(tableSql(d, target, windowed(d, body, model.partitionBy!, window)));
    else {
      try {
        await execute(createIncrementalSql(d, target, body));
      } catch (err) {
        // Partitions of a new model running at once race to create its table: one wins, and
        // the others find it there (Postgres reports the lost race as an error).
        if (!(await warehouse.describe(model.schema)).has(model.name)) throw err;
        log.line('the table was created meanwhile by another task');
      }
      const columns = [...((await warehouse.describe(model.schema)).get(model.name)?.keys() ?? [])];
      await execute(replacePartitionSql(d, target, body, model.partitionBy!, window, columns));
    }

    const scope = { target, now: new Date(), partition: incremental ? { column: model.partitionBy!, window } : undefined };
    for (const q of checkQueries(d, model.checks, scope, (c) => render(c.template))) {
      const r = await warehouse.query(q.sql, { schema: model.schema, timeoutMs: deadline.left(task), maxRows: 1 });
      const result = q.evaluate(r.rows[0]?.[0]);
      checks.push(result);
      log.line(`check ${result.check} (${result.severity}): ${result.status}${result.detail ? `: ${result.detail}` : ''}`);
    }
  } catch (err) {
    const timedOut = err instanceof WeirError && (err.code === 'WEIR_QUERY_TIMEOUT' || err.code === 'WEIR_PIPELINE_TASK_TIMEOUT');
    const shown = timedOut ? timeoutError(task, deadline.timeoutMs) : err;
    const message = shown instanceof Error ? shown.message : String(shown);
    log.line(`failed: ${message}`);
    const errorCode = shown instanceof WeirError ? shown.code : 'WEIR_SERVER_INTERNAL_ERROR';
    return { kind: 'failed', log: log.toString(), errorCode, error: message, timedOut, final: false, checks };
  }
  const failed = checks.filter((c) => c.status === 'fail');
  const errors = failed.filter((c) => c.severity === 'error');
  if (errors.length > 0) {
    const err = new WeirError('WEIR_PIPELINE_CHECK_FAILED', {
      count: errors.length,
      model: model.name,
      partition: partitionLabel(task),
      detail: errors.map((c) => `${c.check}: ${c.detail}`).join('; '),
    });
    return { kind: 'check_failed', log: log.toString(), checks, error: err.message };
  }
  return { kind: 'succeeded', log: log.toString(), warnings: failed.length, checks };
}

function resolve(env: TaskEnvironment, target: Target, window: Window | undefined, e: Expression): string {
  const d = env.dialect;
  switch (e.kind) {
    case 'start':
    case 'end':
      // Validation refuses start and end in unpartitioned models; a full rebuild has a window.
      if (!window) throw new WeirError('WEIR_PIPELINE_BAD_TEMPLATE', { expression: e.kind, detail: 'the task has no partition' });
      return d.timestamp(e.kind === 'start' ? window.start : window.end);
    case 'this':
      return d.table(target.schema, target.table);
    case 'ref': {
      const m = env.project.models.get(e.model);
      return d.table(m?.kind === 'sql' ? m.schema : target.schema, e.model);
    }
    case 'source':
      return d.table(e.schema ?? env.sourceSchema, e.table);
  }
}
