/**
 * Runs, tasks, attempts, check results and trigger bookkeeping in the metadata database, with
 * the same Kysely code on SQLite and Postgres.
 *
 * How several workers share the work without a task running twice:
 * - a worker claims one ready task at a time with a conditional UPDATE that moves it to
 *   `running` under the worker's lease; on Postgres the candidate is chosen with
 *   `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over each other's rows instead of
 *   waiting; SQLite has one writer at a time, so the conditional update alone is enough;
 * - each claim increments the task's attempt number and inserts that attempt, which is unique
 *   per task: two holders of one attempt cannot both record it;
 * - finishing checks the lease (owner and attempt number): a worker whose lease expired and
 *   whose task was claimed again records nothing;
 * - a worker renews its leases while it works; a task whose lease expired (its worker died, or
 *   on this host: its process is gone) is made ready again.
 *
 * Every change that finishes a task, or touches several tasks of a run, first updates the run's
 * row: on Postgres that row lock orders the transactions of one run (so the last task to finish
 * is the one that sees `unfinished` reach 0, and dependents are counted down without deadlock);
 * on SQLite it takes the write lock up front.
 */
import type { Kysely, Selectable, Transaction, Updateable } from 'kysely';
import { sql } from 'kysely';
import { newId } from '../../state/ids.js';
import { PreparedQuery, type Param } from '../../state/prepared-query.js';
import type { SqlFamily } from '../../state/migrations.js';
import type { Database, PipelineRunsTable, PipelineTasksTable } from '../../state/schema.js';
import { WeirError } from '../../errors/catalogue.js';
import type { Partition } from '../partitions.js';
import {
  UNSUCCESSFUL_STATES,
  type AttemptState,
  type AttemptView,
  type CheckResultView,
  type ClaimedTask,
  type ModelLastRun,
  type NewCheckResult,
  type RunDetail,
  type RunKind,
  type RunPlan,
  type RunState,
  type RunView,
  type TaskState,
  type TaskView,
} from './types.js';

export interface PipelineStoreOptions {
  db: Kysely<Database>;
  family: SqlFamily;
  /** Releases the connection; called once, by the first `close()`. */
  release?: () => Promise<void>;
}

type Executor = Kysely<Database> | Transaction<Database>;

/** A lease left unrenewed this many times fails the task: its work probably kills its worker. */
export const MAX_ABANDONS = 3;

/** Rows per INSERT: far below SQLite's 32766 and Postgres' 65535 bound parameters. */
const INSERT_ROWS = 500;
/** Attempt logs keep their newest part. */
export const MAX_LOG_CHARS = 256 * 1024;

const iso = (ms: number): string => new Date(ms).toISOString();

function partitionOfRow(row: { partition_key: string; partition_start: string | null; partition_end: string | null }): Partition {
  return {
    key: row.partition_key,
    start: row.partition_start === null ? null : new Date(row.partition_start),
    end: row.partition_end === null ? null : new Date(row.partition_end),
  };
}

/** The newest part of a long log, marked as cut. */
export function tailOfLog(log: string): string {
  return log.length <= MAX_LOG_CHARS ? log : `[… ${log.length - MAX_LOG_CHARS} earlier characters cut]\n${log.slice(-MAX_LOG_CHARS)}`;
}

/** Signals inside a transaction that the lease was lost: the transaction rolls back. */
class LeaseLost extends Error {}

/** How an attempt that did not succeed ends. */
export interface AttemptFailure {
  state: Exclude<AttemptState, 'running' | 'succeeded' | 'abandoned' | 'cancelled'>;
  errorCode: string;
  error: string;
  log: string;
  /**
   * When another attempt may follow: `retries` is the model's, `delayMs` the wait before it
   * (the caller adds backoff and jitter). Null: this failure is final (checks, definitions).
   */
  retry: { retries: number; delayMs: number } | null;
}

/**
 * The pipeline store. Open it with {@link openPipelineStore}-style helpers (`store/open.ts`) or
 * over any migrated Kysely database.
 *
 * @example
 * ```ts
 * const store = new PipelineStore({ db, family: 'sqlite' });
 * const runId = await store.createRun(plan);
 * const task = await store.claim('host:1:abc', 30_000);
 * if (task) await store.succeed(task, 'host:1:abc', { log: 'ok', warnings: 0 });
 * ```
 */
export class PipelineStore {
  readonly #db: Kysely<Database>;
  readonly #family: SqlFamily;
  readonly #release: (() => Promise<void>) | undefined;
  #closed: Promise<void> | undefined;
  /** The statements every task runs, compiled once (see `state/prepared-query.ts`). */
  readonly #hot: ReturnType<typeof hotQueries>;
  /** Claims, by the number of runs they are limited to (-1: any run). */
  readonly #claims = new Map<number, PreparedQuery<Database, Record<string, string>, ClaimedRow>>();

  constructor(options: PipelineStoreOptions) {
    this.#db = options.db;
    this.#family = options.family;
    this.#release = options.release;
    this.#hot = hotQueries(options.db);
  }

  get family(): SqlFamily {
    return this.#family;
  }

  close(): Promise<void> {
    this.#closed ??= this.#release?.() ?? Promise.resolve();
    return this.#closed;
  }

  /** Creates a run and its tasks; tasks without upstream tasks are ready at once. Returns the run id. */
  async createRun(plan: RunPlan): Promise<string> {
    return this.#db.transaction().execute((trx) => this.#insertRun(trx, plan));
  }

  /**
   * Records trigger firings and creates the run they call for, in one transaction: each
   * (model, kind, key) fires once, whichever worker gets there first. `plan` receives the
   * candidates that fired now (not before) and returns the run, or undefined for none.
   */
  async createTriggeredRun(
    candidates: Array<{ model: string; kind: 'schedule' | 'watermark'; key: string }>,
    plan: (fired: Array<{ model: string; kind: 'schedule' | 'watermark'; key: string }>) => RunPlan | undefined,
  ): Promise<string | undefined> {
    if (candidates.length === 0) return undefined;
    return this.#db.transaction().execute(async (trx) => {
      const runId = newId('run');
      const firedAt = iso(Date.now());
      const fired: typeof candidates = [];
      for (const c of candidates) {
        const row = await trx
          .insertInto('pipeline_triggers')
          .values({ model: c.model, kind: c.kind, trigger_key: c.key, run_id: runId, fired_at: firedAt })
          .onConflict((oc) => oc.columns(['model', 'kind', 'trigger_key']).doNothing())
          .returning('model')
          .executeTakeFirst();
        if (row) fired.push(c);
      }
      const p = fired.length > 0 ? plan(fired) : undefined;
      if (!p || p.tasks.length === 0) {
        // Nothing to run after all: forget the firings, so a later evaluation can fire them.
        if (fired.length > 0) await trx.deleteFrom('pipeline_triggers').where('run_id', '=', runId).execute();
        return undefined;
      }
      return this.#insertRun(trx, p, runId);
    });
  }

  /** The newest key each (model, kind) has fired, e.g. to continue watermark partitions. */
  async lastTriggers(kind: 'schedule' | 'watermark'): Promise<Map<string, string>> {
    const rows = await this.#db
      .selectFrom('pipeline_triggers')
      .select(['model', (eb) => eb.fn.max('trigger_key').as('key')])
      .where('kind', '=', kind)
      .groupBy('model')
      .execute();
    return new Map(rows.map((r) => [r.model, String(r.key)]));
  }

  async #insertRun(trx: Transaction<Database>, plan: RunPlan, runId = newId('run')): Promise<string> {
    const now = iso(Date.now());
    await trx
      .insertInto('pipeline_runs')
      .values({
        id: runId,
        kind: plan.kind,
        state: plan.tasks.length === 0 ? 'succeeded' : 'running',
        run_key: plan.runKey ?? null,
        params: JSON.stringify(plan.params),
        max_parallel: plan.maxParallel ?? null,
        stop_on_failure: plan.stopOnFailure ? 1 : 0,
        task_count: plan.tasks.length,
        unfinished: plan.tasks.length,
        created_at: now,
        updated_at: now,
        finished_at: plan.tasks.length === 0 ? now : null,
      })
      .execute();
    const ids = plan.tasks.map(() => newId('task'));
    const rows = plan.tasks.map((t, i) => ({
      id: ids[i]!,
      run_id: runId,
      model: t.model,
      partition_key: t.partition.key,
      partition_start: t.partition.start?.toISOString() ?? null,
      partition_end: t.partition.end?.toISOString() ?? null,
      seq: i,
      queue_key: `${now}/${String(i).padStart(10, '0')}`,
      state: t.upstream.length === 0 ? 'ready' : 'pending',
      waiting_on: new Set(t.upstream).size,
      attempts: 0,
      failures: 0,
      abandons: 0,
      ready_at: now,
      lease_owner: null,
      lease_expires_at: null,
      started_at: null,
      finished_at: null,
      error_code: null,
      error: null,
      warnings: 0,
    }));
    for (let i = 0; i < rows.length; i += INSERT_ROWS) await trx.insertInto('pipeline_tasks').values(rows.slice(i, i + INSERT_ROWS)).execute();
    const deps = plan.tasks.flatMap((t, i) => [...new Set(t.upstream)].map((u) => ({ task_id: ids[i]!, upstream_id: ids[u]! })));
    for (let i = 0; i < deps.length; i += INSERT_ROWS * 5) await trx.insertInto('pipeline_task_deps').values(deps.slice(i, i + INSERT_ROWS * 5)).execute();
    return runId;
  }

  /**
   * Claims the next ready task (oldest run first, then in plan order), respecting each run's
   * `maxParallel`, and starts its attempt. Undefined when nothing is ready.
   */
  async claim(worker: string, leaseMs: number, runIds?: readonly string[]): Promise<ClaimedTask | undefined> {
    if (runIds !== undefined && runIds.length === 0) return undefined;
    // One transaction for the claim and its attempt: one commit, and never a claim without its attempt.
    return this.#db.transaction().execute((trx) => this.#claimIn(trx, worker, leaseMs, runIds));
  }

  async #claimIn(trx: Transaction<Database>, worker: string, leaseMs: number, runIds?: readonly string[]): Promise<ClaimedTask | undefined> {
    const nowMs = Date.now();
    const now = iso(nowMs);
    const args: Record<string, string> = { now, worker, until: iso(nowMs + leaseMs) };
    runIds?.forEach((id, i) => (args[`run${i}`] = id));
    const row = (await this.#claimQuery(runIds?.length ?? -1).execute(trx, args)).rows[0];
    if (!row) return undefined;
    const attemptId = newId('att');
    await this.#hot.insertAttempt.execute(trx, { id: attemptId, taskId: row.id, runId: row.run_id, number: row.attempts, worker, now });
    return { id: row.id, runId: row.run_id, model: row.model, partition: partitionOfRow(row), attempt: row.attempts, attemptId, failures: row.failures };
  }

  /** The claim statement for `runs` run ids (-1: any run), compiled once per length. */
  #claimQuery(runs: number): PreparedQuery<Database, Record<string, string>, ClaimedRow> {
    let query = this.#claims.get(runs);
    if (query) return query;
    query = new PreparedQuery(this.#db, (db, p: Param<Record<string, string>>) => {
      let candidate = db
        .selectFrom('pipeline_tasks as t')
        .innerJoin('pipeline_runs as r', 'r.id', 't.run_id')
        .select('t.id')
        .where('t.state', '=', 'ready')
        .where('t.ready_at', '<=', p('now'))
        .where((eb) =>
          eb.or([
            eb('r.max_parallel', 'is', null),
            eb(
              'r.max_parallel',
              '>',
              eb.selectFrom('pipeline_tasks as x').select((x) => x.fn.countAll<number>().as('n')).whereRef('x.run_id', '=', 't.run_id').where('x.state', '=', 'running'),
            ),
          ]),
        )
        // Older runs first, each in plan order: an index walk that stops at the first task it may
        // take, however many are ready.
        .orderBy('t.queue_key')
        .limit(1);
      if (runs >= 0) candidate = candidate.where('t.run_id', 'in', Array.from({ length: runs }, (_, i) => p(`run${i}`)));
      if (this.#family === 'postgres') candidate = candidate.forUpdate('t').skipLocked();
      return db
        .updateTable('pipeline_tasks')
        .set({
          state: 'running',
          lease_owner: p('worker'),
          lease_expires_at: p('until'),
          attempts: sql`attempts + 1`,
          started_at: sql`coalesce(started_at, ${p('now')})`,
        })
        .where('id', '=', candidate)
        .where('state', '=', 'ready')
        .returning(['id', 'run_id', 'model', 'partition_key', 'partition_start', 'partition_end', 'attempts', 'failures']);
    });
    // Claims of up to a few runs at once are the common case; longer lists are rare and not kept.
    if (runs <= 8) this.#claims.set(runs, query);
    return query;
  }

  /**
   * Renews every lease this worker holds. Returns the ids of the tasks it still holds: a task
   * missing from the answer was taken away (its lease had expired) and its work must stop.
   */
  async renewLeases(worker: string, leaseMs: number): Promise<Set<string>> {
    const rows = await this.#db
      .updateTable('pipeline_tasks')
      .set({ lease_expires_at: iso(Date.now() + leaseMs) })
      .where('lease_owner', '=', worker)
      .where('state', '=', 'running')
      .returning('id')
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Records a successful attempt and makes ready the tasks that waited only for this one.
   * False when the lease was lost (nothing is recorded).
   */
  async succeed(task: ClaimedTask, worker: string, outcome: { log: string; warnings: number; checks?: NewCheckResult[] }): Promise<boolean> {
    return (await this.succeedAndClaim(task, worker, outcome)).recorded;
  }

  /**
   * {@link succeed}, and with `next`, in the same transaction, {@link claim} the next task: a
   * worker that goes on working pays one commit per task instead of two.
   */
  async succeedAndClaim(
    task: ClaimedTask,
    worker: string,
    outcome: { log: string; warnings: number; checks?: NewCheckResult[] },
    next?: { leaseMs: number; runIds?: readonly string[] },
  ): Promise<{ recorded: boolean; next: ClaimedTask | undefined }> {
    let claimed: ClaimedTask | undefined;
    const recorded = await this.#finish(
      task,
      worker,
      async (trx, now) => {
        const held = await this.#hot.succeedTask.execute(trx, { id: task.id, worker, attempt: task.attempt, now, warnings: outcome.warnings });
        if (held.numAffectedRows === 0n) throw new LeaseLost();
        await this.#hot.succeedAttempt.execute(trx, { id: task.attemptId, now, log: tailOfLog(outcome.log) });
        await this.#insertChecks(trx, task, outcome.checks ?? [], now);
        // The ids first, then the update by primary key, one at a time: in one statement SQLite
        // chose to walk every pending task of the store (200 µs a task at 3,000 pending), and
        // one prepared statement serves every task, however many dependents it has.
        for (const { task_id: id } of (await this.#hot.dependents.execute(trx, { id: task.id })).rows) {
          await this.#hot.countDown.execute(trx, { id, now });
        }
        return 1;
      },
      1,
      next && (async (trx) => {
        if (next.runIds === undefined || next.runIds.length > 0) claimed = await this.#claimIn(trx, worker, next.leaseMs, next.runIds);
      }),
    );
    return { recorded, next: recorded ? claimed : undefined };
  }

  /**
   * Records a failed attempt. With retries left the task is ready again after the delay
   * (`retrying`); otherwise it ends `failed` (or `check_failed`), the tasks downstream of it
   * end `upstream_failed`, and a run that stops on failure skips what has not started.
   * `lost` when the lease was lost (nothing is recorded).
   */
  async fail(task: ClaimedTask, worker: string, failure: AttemptFailure, checks: NewCheckResult[] = []): Promise<'retrying' | 'failed' | 'lost'> {
    let outcome: 'retrying' | 'failed' = 'failed';
    const ok = await this.#finish(task, worker, async (trx, now, nowMs) => {
      const failures = task.failures + 1;
      await this.#endAttempt(trx, task, { state: failure.state, finished_at: now, error_code: failure.errorCode, error: failure.error, log: tailOfLog(failure.log) });
      await this.#insertChecks(trx, task, checks, now);
      if (failure.retry !== null && failures <= failure.retry.retries) {
        outcome = 'retrying';
        await this.#leasedUpdate(trx, task, worker, {
          state: 'ready',
          failures,
          ready_at: iso(nowMs + failure.retry.delayMs),
          lease_owner: null,
          lease_expires_at: null,
          error_code: failure.errorCode,
          error: failure.error,
        });
        return 0;
      }
      const finalState: TaskState = failure.state === 'check_failed' ? 'check_failed' : 'failed';
      await this.#leasedUpdate(trx, task, worker, {
        state: finalState,
        failures,
        finished_at: now,
        lease_owner: null,
        lease_expires_at: null,
        error_code: failure.errorCode,
        error: failure.error,
      });
      return 1 + (await this.#afterFailure(trx, task, now));
    });
    return ok ? outcome : 'lost';
  }

  /**
   * Gives a claimed task back without counting a failure (the worker is stopping): ready again
   * at once, its attempt `cancelled`.
   */
  async release(task: ClaimedTask, worker: string, log: string): Promise<boolean> {
    return this.#finish(task, worker, async (trx, now) => {
      await this.#leasedUpdate(trx, task, worker, { state: 'ready', ready_at: now, lease_owner: null, lease_expires_at: null });
      await this.#endAttempt(trx, task, { state: 'cancelled', finished_at: now, log: tailOfLog(log), error: 'the worker stopped' });
      return 0;
    }, 0);
  }

  /**
   * Takes back tasks whose lease has expired, or whose owner `isGone` says is dead: ready
   * again, or failed (`WEIR_PIPELINE_LEASE_EXPIRED`) once abandoned {@link MAX_ABANDONS} times.
   * Returns how many were taken back.
   */
  async reclaimExpired(isGone: (owner: string) => boolean = () => false): Promise<number> {
    const nowMs = Date.now();
    const now = iso(nowMs);
    const rows = await this.#db
      .selectFrom('pipeline_tasks')
      .select(['id', 'run_id', 'model', 'partition_key', 'partition_start', 'partition_end', 'attempts', 'failures', 'abandons', 'lease_owner', 'lease_expires_at'])
      .where('state', '=', 'running')
      .execute();
    let taken = 0;
    for (const row of rows) {
      const owner = row.lease_owner ?? '';
      if (!(row.lease_expires_at === null || row.lease_expires_at < now || isGone(owner))) continue;
      const task: ClaimedTask = { id: row.id, runId: row.run_id, model: row.model, partition: partitionOfRow(row), attempt: row.attempts, attemptId: '', failures: row.failures };
      const abandons = row.abandons + 1;
      const ok = await this.#finish(task, owner, async (trx) => {
        const final = abandons >= MAX_ABANDONS;
        const error = `the worker ${owner} stopped renewing its lease`;
        await this.#leasedUpdate(trx, task, owner, {
          state: final ? 'failed' : 'ready',
          abandons,
          ready_at: now,
          lease_owner: null,
          lease_expires_at: null,
          finished_at: final ? now : null,
          error_code: final ? 'WEIR_PIPELINE_LEASE_EXPIRED' : null,
          error: final ? error : null,
        });
        await trx
          .updateTable('pipeline_attempts')
          .set({ state: 'abandoned', finished_at: now, error_code: 'WEIR_PIPELINE_LEASE_EXPIRED', error })
          .where('task_id', '=', task.id)
          .where('number', '=', task.attempt)
          .where('state', '=', 'running')
          .execute();
        return final ? 1 + (await this.#afterFailure(trx, task, now)) : 0;
      });
      if (ok) taken += 1;
    }
    return taken;
  }

  /**
   * Runs the unsuccessful part of a run again: its failed, check-failed, upstream-failed and
   * skipped tasks go back to waiting for their upstream tasks (the succeeded ones count as
   * done), with fresh retries. A finished run runs again; an unfinished one (interrupted) is
   * allowed with `resume`. Returns the number of tasks reset.
   */
  async retryRun(runId: string, options: { resume?: boolean } = {}): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      const now = iso(Date.now());
      const run = await trx.updateTable('pipeline_runs').set({ updated_at: now }).where('id', '=', runId).returning(['state']).executeTakeFirst();
      if (!run) throw new WeirError('WEIR_PIPELINE_RUN_NOT_FOUND', { run: runId });
      if (run.state === 'running' && !options.resume) throw new WeirError('WEIR_PIPELINE_RUN_ACTIVE', { run: runId });
      const reset = await trx
        .updateTable('pipeline_tasks')
        .set({ state: 'pending', failures: 0, abandons: 0, finished_at: null, error_code: null, error: null, warnings: 0, ready_at: now })
        .where('run_id', '=', runId)
        .where('state', 'in', UNSUCCESSFUL_STATES)
        .executeTakeFirst();
      const count = Number(reset.numUpdatedRows);
      if (count === 0) return 0;
      await trx
        .updateTable('pipeline_tasks')
        .set((eb) => ({
          waiting_on: eb
            .selectFrom('pipeline_task_deps as d')
            .innerJoin('pipeline_tasks as u', 'u.id', 'd.upstream_id')
            .select((x) => x.fn.countAll<number>().as('n'))
            .whereRef('d.task_id', '=', 'pipeline_tasks.id')
            .where('u.state', '!=', 'succeeded'),
        }))
        .where('run_id', '=', runId)
        .where('state', '=', 'pending')
        .execute();
      await trx.updateTable('pipeline_tasks').set({ state: 'ready' }).where('run_id', '=', runId).where('state', '=', 'pending').where('waiting_on', '=', 0).execute();
      await trx
        .updateTable('pipeline_runs')
        .set({ state: 'running', finished_at: null, unfinished: sql`unfinished + ${count}` })
        .where('id', '=', runId)
        .execute();
      return count;
    });
  }

  /** Records an attempt's check results outside a finishing transaction (none needed today). */
  async #insertChecks(trx: Executor, task: ClaimedTask, checks: NewCheckResult[], now: string): Promise<void> {
    if (checks.length === 0) return;
    await trx
      .insertInto('pipeline_check_results')
      .values(
        checks.map((c) => ({
          id: newId('chk'),
          run_id: task.runId,
          task_id: task.id,
          attempt_id: task.attemptId,
          model: task.model,
          partition_key: task.partition.key,
          check_name: c.check,
          kind: c.kind,
          severity: c.severity,
          status: c.status,
          failing: c.failing,
          detail: c.detail,
          query: c.query,
          checked_at: now,
        })),
      )
      .execute();
  }

  /**
   * One finishing transaction: lock the run, apply `body` (which returns how many tasks it
   * finished), count them off the run, and finish the run when none is left. When the count is
   * `known` up front (a success finishes its own task only), the count is what locks the run.
   * False when the lease was lost.
   */
  async #finish(
    task: ClaimedTask,
    worker: string,
    body: (trx: Transaction<Database>, now: string, nowMs: number) => Promise<number>,
    known?: number,
    then?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<boolean> {
    try {
      await this.#db.transaction().execute(async (trx) => {
        const nowMs = Date.now();
        const now = iso(nowMs);
        if (known !== undefined) {
          const run = (await this.#hot.countOff.execute(trx, { id: task.runId, now, finished: known })).rows[0];
          await body(trx, now, nowMs);
          if (known > 0 && run && Number(run.unfinished) <= 0) await this.#closeRun(trx, task.runId, now);
          await then?.(trx);
          return;
        }
        await trx.updateTable('pipeline_runs').set({ updated_at: now }).where('id', '=', task.runId).execute();
        const finished = await body(trx, now, nowMs);
        if (finished === 0) return;
        const run = await trx
          .updateTable('pipeline_runs')
          .set({ unfinished: sql`unfinished - ${finished}` })
          .where('id', '=', task.runId)
          .returning('unfinished')
          .executeTakeFirst();
        if (run && Number(run.unfinished) <= 0) await this.#closeRun(trx, task.runId, now);
      });
      return true;
    } catch (err) {
      if (err instanceof LeaseLost) return false;
      throw err;
    }
  }

  async #closeRun(trx: Transaction<Database>, runId: string, now: string): Promise<void> {
    const bad = await trx
      .selectFrom('pipeline_tasks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('run_id', '=', runId)
      .where('state', '!=', 'succeeded')
      .executeTakeFirstOrThrow();
    const state: RunState = Number(bad.n) === 0 ? 'succeeded' : 'failed';
    await trx.updateTable('pipeline_runs').set({ state, finished_at: now }).where('id', '=', runId).execute();
  }

  /** Updates the task only while the worker holds its lease for this attempt. */
  async #leasedUpdate(
    trx: Transaction<Database>,
    task: ClaimedTask,
    worker: string,
    values: Updateable<PipelineTasksTable>,
  ): Promise<void> {
    const r = await trx
      .updateTable('pipeline_tasks')
      .set(values)
      .where('id', '=', task.id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', worker)
      .where('attempts', '=', task.attempt)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) throw new LeaseLost();
  }

  async #endAttempt(
    trx: Transaction<Database>,
    task: ClaimedTask,
    values: { state: AttemptState; finished_at: string; log?: string; error_code?: string | null; error?: string | null },
  ): Promise<void> {
    await trx.updateTable('pipeline_attempts').set(values).where('id', '=', task.attemptId).execute();
  }

  /**
   * After a task ended unsuccessfully: everything downstream of it in the run (that has not
   * started, as it cannot have) ends `upstream_failed`; a run that stops on failure skips the
   * rest of what has not started. Returns how many tasks this finished.
   */
  async #afterFailure(trx: Transaction<Database>, task: ClaimedTask, now: string): Promise<number> {
    let finished = 0;
    let frontier = [task.id];
    const error = `${task.model} ${task.partition.key} did not succeed`.replace('  ', ' ');
    while (frontier.length > 0) {
      const ids: string[] = [];
      const dependents = await this.#dependentsOf(trx, frontier);
      for (let i = 0; i < dependents.length; i += INSERT_ROWS) {
        const rows = await trx
          .updateTable('pipeline_tasks')
          .set({ state: 'upstream_failed', finished_at: now, error_code: null, error })
          .where('id', 'in', dependents.slice(i, i + INSERT_ROWS))
          .where('state', '=', 'pending')
          .returning('id')
          .execute();
        ids.push(...rows.map((r) => r.id));
      }
      finished += ids.length;
      frontier = ids;
    }
    const run = await trx.selectFrom('pipeline_runs').select('stop_on_failure').where('id', '=', task.runId).executeTakeFirst();
    if (run?.stop_on_failure === 1) {
      const skipped = await trx
        .updateTable('pipeline_tasks')
        .set({ state: 'skipped', finished_at: now, error: `the run stopped at the failure of ${task.model} ${task.partition.key}`.trimEnd() })
        .where('run_id', '=', task.runId)
        .where('state', 'in', ['pending', 'ready'])
        .executeTakeFirst();
      finished += Number(skipped.numUpdatedRows);
    }
    return finished;
  }

  /** The tasks that depend on any of these, without duplicates. */
  async #dependentsOf(trx: Transaction<Database>, upstream: string[]): Promise<string[]> {
    const ids = new Set<string>();
    for (let i = 0; i < upstream.length; i += INSERT_ROWS) {
      const rows = await trx.selectFrom('pipeline_task_deps').select('task_id').where('upstream_id', 'in', upstream.slice(i, i + INSERT_ROWS)).execute();
      for (const r of rows) ids.add(r.task_id);
    }
    return [...ids];
  }

  // Reading, for the CLI and the UI.

  async runState(runId: string): Promise<RunState | undefined> {
    const row = await this.#db.selectFrom('pipeline_runs').select('state').where('id', '=', runId).executeTakeFirst();
    return row?.state as RunState | undefined;
  }

  async getRun(runId: string): Promise<RunDetail | undefined> {
    const run = await this.#db.selectFrom('pipeline_runs').selectAll().where('id', '=', runId).executeTakeFirst();
    if (!run) return undefined;
    const tasks = await this.listTasks(runId);
    const counts: Partial<Record<TaskState, number>> = {};
    for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
    return { ...runView(run, counts), tasks };
  }

  /** Runs, newest first; `before` pages on by creation time; `model`: runs with a task of that model. */
  async listRuns(filter: { limit?: number; before?: string; state?: RunState; kind?: RunKind; runKey?: string; model?: string } = {}): Promise<RunView[]> {
    let q = this.#db.selectFrom('pipeline_runs').selectAll();
    const model = filter.model;
    if (model !== undefined) {
      q = q.where((eb) => eb.exists(eb.selectFrom('pipeline_tasks as t').select('t.id').whereRef('t.run_id', '=', 'pipeline_runs.id').where('t.model', '=', model)));
    }
    if (filter.before !== undefined) q = q.where('created_at', '<', filter.before);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.runKey !== undefined) q = q.where('run_key', '=', filter.runKey);
    const runs = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 20).execute();
    if (runs.length === 0) return [];
    const rows = await this.#db
      .selectFrom('pipeline_tasks')
      .select(['run_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where(
        'run_id',
        'in',
        runs.map((r) => r.id),
      )
      .groupBy(['run_id', 'state'])
      .execute();
    const counts = new Map<string, Partial<Record<TaskState, number>>>();
    for (const r of rows) {
      let c = counts.get(r.run_id);
      if (!c) counts.set(r.run_id, (c = {}));
      c[r.state as TaskState] = Number(r.n);
    }
    return runs.map((r) => runView(r, counts.get(r.id) ?? {}));
  }

  /** The tasks of a run in plan order, each with the ids of the tasks it waited for. */
  async listTasks(runId: string): Promise<TaskView[]> {
    const rows = await this.#db.selectFrom('pipeline_tasks').selectAll().where('run_id', '=', runId).orderBy('seq').execute();
    const deps = await this.#db
      .selectFrom('pipeline_task_deps as d')
      .innerJoin('pipeline_tasks as t', 't.id', 'd.task_id')
      .select(['d.task_id', 'd.upstream_id'])
      .where('t.run_id', '=', runId)
      .execute();
    const upstream = new Map<string, string[]>();
    for (const d of deps) {
      let list = upstream.get(d.task_id);
      if (!list) upstream.set(d.task_id, (list = []));
      list.push(d.upstream_id);
    }
    return rows.map((r) => ({
      id: r.id,
      runId: r.run_id,
      model: r.model,
      partition: { key: r.partition_key, start: r.partition_start, end: r.partition_end },
      state: r.state as TaskState,
      attempts: r.attempts,
      failures: r.failures,
      readyAt: r.ready_at,
      leaseOwner: r.lease_owner,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      errorCode: r.error_code,
      error: r.error,
      warnings: r.warnings,
      upstream: upstream.get(r.id) ?? [],
    }));
  }

  /** Attempts (without their logs) of a run or of one task, in start order. */
  async listAttempts(filter: { runId?: string; taskId?: string }): Promise<AttemptView[]> {
    let q = this.#db.selectFrom('pipeline_attempts').select(['id', 'task_id', 'run_id', 'number', 'worker', 'state', 'started_at', 'finished_at', 'error_code', 'error']);
    if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
    if (filter.taskId !== undefined) q = q.where('task_id', '=', filter.taskId);
    const rows = await q.orderBy('started_at').orderBy('number').execute();
    return rows.map((r) => ({
      id: r.id,
      taskId: r.task_id,
      runId: r.run_id,
      number: r.number,
      worker: r.worker,
      state: r.state as AttemptState,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      errorCode: r.error_code,
      error: r.error,
    }));
  }

  async attemptLog(attemptId: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('pipeline_attempts').select('log').where('id', '=', attemptId).executeTakeFirst();
    return row?.log;
  }

  /** Check results, newest first: of a run, of a task, or the history of a model's checks. */
  async listCheckResults(filter: { runId?: string; taskId?: string; model?: string; check?: string; limit?: number }): Promise<CheckResultView[]> {
    let q = this.#db.selectFrom('pipeline_check_results').selectAll();
    if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
    if (filter.taskId !== undefined) q = q.where('task_id', '=', filter.taskId);
    if (filter.model !== undefined) q = q.where('model', '=', filter.model);
    if (filter.check !== undefined) q = q.where('check_name', '=', filter.check);
    const rows = await q.orderBy('checked_at', 'desc').orderBy('id').limit(filter.limit ?? 1000).execute();
    return rows.map((r) => ({
      id: r.id,
      runId: r.run_id,
      taskId: r.task_id,
      attemptId: r.attempt_id,
      model: r.model,
      partitionKey: r.partition_key,
      check: r.check_name,
      kind: r.kind,
      severity: r.severity as 'warn' | 'error',
      status: r.status as 'pass' | 'fail',
      failing: r.failing === null ? null : Number(r.failing),
      detail: r.detail,
      query: r.query,
      checkedAt: r.checked_at,
    }));
  }

  /** A model's newest finished tasks (its last runs), newest first. */
  async listModelTasks(model: string, limit = 20): Promise<ModelLastRun[]> {
    const rows = await this.#db
      .selectFrom('pipeline_tasks')
      .select(['model', 'run_id', 'partition_key', 'state', 'finished_at'])
      .where('model', '=', model)
      .where('finished_at', 'is not', null)
      .orderBy('finished_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(lastRunOf);
  }

  /** The models with a task running now. */
  async runningModels(): Promise<Set<string>> {
    const rows = await this.#db.selectFrom('pipeline_tasks').select('model').distinct().where('state', '=', 'running').execute();
    return new Set(rows.map((r) => r.model));
  }

  /** The newest finished task of each model. */
  async lastRuns(): Promise<Map<string, ModelLastRun>> {
    const rows = await this.#db
      .selectFrom('pipeline_tasks as t')
      .select(['t.model', 't.run_id', 't.partition_key', 't.state', 't.finished_at'])
      .where('t.finished_at', 'is not', null)
      .where('t.finished_at', '=', (eb) => eb.selectFrom('pipeline_tasks as u').select((x) => x.fn.max('u.finished_at').as('f')).whereRef('u.model', '=', 't.model'))
      .execute();
    return new Map(rows.map((r) => [r.model, lastRunOf(r)]));
  }
}

function lastRunOf(r: Pick<Selectable<PipelineTasksTable>, 'model' | 'run_id' | 'partition_key' | 'state' | 'finished_at'>): ModelLastRun {
  return { model: r.model, runId: r.run_id, partitionKey: r.partition_key, state: r.state as TaskState, finishedAt: r.finished_at ?? '' };
}

function runView(
  r: Selectable<PipelineRunsTable>,
  counts: Partial<Record<TaskState, number>>,
): RunView {
  return {
    id: r.id,
    kind: r.kind as RunKind,
    state: r.state as RunState,
    runKey: r.run_key,
    params: JSON.parse(r.params) as Record<string, unknown>,
    maxParallel: r.max_parallel,
    stopOnFailure: r.stop_on_failure === 1,
    taskCount: r.task_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    counts,
  };
}

/** What a claim returns of the task it took. */
type ClaimedRow = Pick<Selectable<PipelineTasksTable>, 'id' | 'run_id' | 'model' | 'partition_key' | 'partition_start' | 'partition_end' | 'attempts' | 'failures'>;

/** The statements of every task's claim and success, prepared once per store. */
function hotQueries(db: Kysely<Database>) {
  return {
    insertAttempt: new PreparedQuery(db, (d, p: Param<{ id: string; taskId: string; runId: string; number: number; worker: string; now: string }>) =>
      d.insertInto('pipeline_attempts').values({
        id: p('id'),
        task_id: p('taskId'),
        run_id: p('runId'),
        number: p('number'),
        worker: p('worker'),
        state: 'running',
        started_at: p('now'),
        finished_at: null,
        error_code: null,
        error: null,
        log: '',
      }),
    ),
    /** Counts finished tasks off their run (locking its row first, see the header). */
    countOff: new PreparedQuery(db, (d, p: Param<{ id: string; now: string; finished: number }>) =>
      d
        .updateTable('pipeline_runs')
        .set({ updated_at: p('now'), unfinished: sql`unfinished - ${p('finished')}` })
        .where('id', '=', p('id'))
        .returning('unfinished'),
    ),
    /** Succeeds a task while the worker holds its lease for this attempt. */
    succeedTask: new PreparedQuery(db, (d, p: Param<{ id: string; worker: string; attempt: number; now: string; warnings: number }>) =>
      d
        .updateTable('pipeline_tasks')
        .set({ state: 'succeeded', finished_at: p('now'), lease_owner: null, lease_expires_at: null, error_code: null, error: null, warnings: p('warnings') })
        .where('id', '=', p('id'))
        .where('state', '=', 'running')
        .where('lease_owner', '=', p('worker'))
        .where('attempts', '=', p('attempt')),
    ),
    succeedAttempt: new PreparedQuery(db, (d, p: Param<{ id: string; now: string; log: string }>) =>
      d.updateTable('pipeline_attempts').set({ state: 'succeeded', finished_at: p('now'), log: p('log') }).where('id', '=', p('id')),
    ),
    dependents: new PreparedQuery(db, (d, p: Param<{ id: string }>) => d.selectFrom('pipeline_task_deps').select('task_id').where('upstream_id', '=', p('id'))),
    /** One upstream task of a pending task succeeded: it is ready once none is left. */
    countDown: new PreparedQuery(db, (d, p: Param<{ id: string; now: string }>) =>
      d
        .updateTable('pipeline_tasks')
        .set({
          waiting_on: sql`waiting_on - 1`,
          // SET reads the row as it was: waiting_on is the count before this decrement.
          state: sql`case when waiting_on <= 1 then 'ready' else 'pending' end`,
          ready_at: p('now'),
        })
        .where('id', '=', p('id'))
        .where('state', '=', 'pending'),
    ),
  };
}
