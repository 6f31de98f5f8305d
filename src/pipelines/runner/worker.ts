/**
 * The pipeline worker: claims ready tasks from the store, up to a concurrency limit, runs them
 * and records each attempt; renews its leases while it works and takes back the tasks of
 * workers that stopped renewing theirs; optionally fires schedules and watermark triggers.
 * Several workers (threads of work in one process, or processes on several hosts) can share
 * one store: the store's claims hand each task to one of them.
 */
import { hostname } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomAlphanumeric } from '../../state/ids.js';
import type { Logger } from '../../observability/logger.js';
import type { Warehouse } from '../../warehouse/warehouse.js';
import type { Project } from '../definitions/model.js';
import { loadProject } from '../definitions/project.js';
import { dialectOf } from '../sql/dialect.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import type { ClaimedTask } from '../store/types.js';
import { fireSchedules, fireWatermark } from '../triggers/triggers.js';
import { runTask, type TaskEnvironment, type TaskOutcome } from './run-task.js';
import { ShellLauncher } from './launcher.js';

export interface PipelineWorkerOptions {
  store: PipelineStore;
  warehouse: Warehouse;
  /** The pipelines folder. */
  dir: string;
  logger: Logger;
  /** Aborting stops the worker: no new claims, running tasks are stopped and handed back. */
  signal: AbortSignal;
  /**
   * The loader's event-time watermark (everything before it is loaded), for watermark
   * triggers. Without it, watermark-triggered models run only when asked.
   */
  watermark?: () => Promise<Date | undefined>;
  /** Schema of models whose header names none; default `analytics`. */
  schema?: string;
  /** Schema of `source('table')` without a schema; default `default` (the default source). */
  sourceSchema?: string;
  /** Tasks run at once by this worker; default 4. */
  concurrency?: number;
  /** How long a claim holds without renewal; default 30 s. Renewed every third of it. */
  leaseMs?: number;
  /** How often to look for work when none is ready; default 1 s (a finished task looks at once). */
  pollMs?: number;
  /** The folder as the caller has just read it; read again when a file in it changes. */
  project?: Project;
  /** Work only on these runs, and return once they have all finished (the CLI's mode). */
  runIds?: readonly string[];
  /** Fire schedules and watermark triggers; default: on, unless `runIds` is given. */
  triggers?: boolean;
  /** How often triggers are evaluated; default 10 s. */
  triggerIntervalMs?: number;
  /** The longest wait between retries; default 10 minutes. */
  maxRetryDelayMs?: number;
  /** Called after each attempt is recorded, with how long the attempt ran (for metrics). */
  onAttempt?: (task: ClaimedTask, outcome: TaskOutcome['kind'] | 'retrying', seconds: number) => void;
  /** Called when the number of tasks this worker runs changes (for metrics). */
  onRunning?: (tasks: number) => void;
  /** Called when a trigger created a run (for metrics). */
  onTriggered?: (trigger: 'schedule' | 'watermark', runId: string) => void;
}

export interface PipelineWorker {
  /** `host:pid:random`: the lease owner the store shows. */
  id: string;
  /** Resolves when the worker has stopped (aborted, or its runs finished). */
  done: Promise<void>;
}

/** A worker id: this host and process, so a worker on the same host can tell when it is gone. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomAlphanumeric(6)}`;
}

/**
 * True when a lease owner is a process of this host that no longer exists: its tasks need not
 * wait for the lease to expire.
 */
export function isLocalOwnerGone(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || pid === undefined || Number(pid) === process.pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The definitions folder, read again when a file in it changes. */
class ProjectCache {
  private project: Project | undefined;
  private signature = '';
  private checkedAt = 0;

  constructor(
    private readonly dir: string,
    private readonly schema: string,
    private readonly logger: Logger,
    loaded?: Project,
  ) {
    // A caller that has just read the folder (the CLI, to plan its run) saves a second parse.
    if (loaded) {
      this.project = loaded;
      this.signature = folderSignature(dir);
      this.checkedAt = Date.now();
    }
  }

  get(): Project {
    const now = Date.now();
    if (this.project && now - this.checkedAt < 2000) return this.project;
    this.checkedAt = now;
    const signature = folderSignature(this.dir);
    if (this.project && signature === this.signature) return this.project;
    const project = loadProject(this.dir, { schema: this.schema });
    for (const p of project.problems) this.logger.warn({ code: p.code, file: p.file, line: p.line }, `pipelines: ${p.message}`);
    this.project = project;
    this.signature = signature;
    return project;
  }
}

function folderSignature(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(sql|sh)$/.test(entry.name)) {
        const st = statSync(p);
        parts.push(`${p}:${st.mtimeMs}:${st.size}`);
      }
    }
  };
  walk(dir);
  return parts.sort().join('\n');
}

/**
 * Starts a worker. It runs until `signal` aborts, or, with `runIds`, until those runs finish.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const worker = startPipelineWorker({ store, warehouse, dir: 'pipelines', logger, signal: stop.signal, watermark });
 * // …
 * stop.abort();
 * await worker.done;
 * ```
 */
export function startPipelineWorker(options: PipelineWorkerOptions): PipelineWorker {
  const id = newWorkerId();
  return { id, done: runWorker(id, options) };
}

async function runWorker(id: string, o: PipelineWorkerOptions): Promise<void> {
  const { store, logger, signal } = o;
  const concurrency = Math.max(1, o.concurrency ?? 4);
  const leaseMs = o.leaseMs ?? 30_000;
  const pollMs = o.pollMs ?? 1000;
  const maxRetryDelayMs = o.maxRetryDelayMs ?? 600_000;
  const fireTriggers = o.triggers ?? o.runIds === undefined;
  const projects = new ProjectCache(o.dir, o.schema ?? 'analytics', logger, o.project);
  const started = new Date();
  const inflight = new Map<string, { task: ClaimedTask; controller: AbortController; done: Promise<void> }>();
  /** Wakes the loop: a task finished, a retry came due, or the worker is stopping. */
  let wake: () => void = () => {};
  const retryTimers = new Set<NodeJS.Timeout>();
  const launcher = ShellLauncher.available() ? new ShellLauncher() : undefined;
  const dialect = dialectOf(o.warehouse.engine);

  const environment = (): TaskEnvironment => ({
    warehouse: o.warehouse,
    dialect,
    project: projects.get(),
    sourceSchema: o.sourceSchema ?? 'default',
    launcher,
  });

  const execute = async (task: ClaimedTask, controller: AbortController): Promise<void> => {
    const env = environment();
    const model = env.project.models.get(task.model);
    const startedMs = performance.now();
    const outcome = await runTask(env, task, model, controller.signal);
    const seconds = (performance.now() - startedMs) / 1000;
    let recorded: TaskOutcome['kind'] | 'retrying' = outcome.kind;
    switch (outcome.kind) {
      case 'succeeded': {
        // Claiming the next task in the same transaction saves a commit per task; not when stopping.
        const claimNext = signal.aborted ? undefined : { leaseMs, runIds: o.runIds };
        const { next } = await store.succeedAndClaim(task, id, { log: outcome.log, warnings: outcome.warnings, checks: outcome.checks }, claimNext);
        if (next) start(next);
        break;
      }
      case 'cancelled':
        await store.release(task, id, outcome.log);
        break;
      case 'check_failed':
        await store.fail(task, id, { state: 'check_failed', errorCode: 'WEIR_PIPELINE_CHECK_FAILED', error: outcome.error, log: outcome.log, retry: null }, outcome.checks);
        break;
      case 'failed': {
        const base = model?.retryDelayMs ?? 0;
        // Exponential backoff with up to 25% jitter, so tasks that failed together do not retry in lockstep.
        const delayMs = Math.min(maxRetryDelayMs, base * 2 ** task.failures) * (1 + Math.random() * 0.25);
        const result = await store.fail(
          task,
          id,
          {
            state: outcome.timedOut ? 'timed_out' : 'failed',
            errorCode: outcome.errorCode,
            error: outcome.error,
            log: outcome.log,
            retry: outcome.final || !model ? null : { retries: model.retries, delayMs },
          },
          outcome.checks,
        );
        if (result === 'retrying') {
          recorded = 'retrying';
          const timer = setTimeout(() => {
            retryTimers.delete(timer);
            wake();
          }, delayMs + 1);
          retryTimers.add(timer);
        }
        break;
      }
    }
    logger.debug({ task: task.id, model: task.model, partition: task.partition.key, attempt: task.attempt, outcome: recorded }, 'pipeline task attempt');
    o.onAttempt?.(task, recorded, seconds);
  };

  const start = (task: ClaimedTask) => {
    const controller = new AbortController();
    const done = execute(task, controller)
      .catch((err: unknown) => logger.error({ err, task: task.id }, 'pipeline task could not be recorded'))
      .finally(() => {
        inflight.delete(task.id);
        o.onRunning?.(inflight.size);
        wake();
      });
    inflight.set(task.id, { task, controller, done });
    o.onRunning?.(inflight.size);
  };

  const renew = async () => {
    if (inflight.size === 0) return;
    // Only tasks claimed before the renewal started can be missing from its answer because
    // their lease was lost: a claim committed meanwhile is not in the statement's snapshot.
    const before = [...inflight.keys()];
    const held = await store.renewLeases(id, leaseMs);
    for (const taskId of before) {
      const entry = inflight.get(taskId);
      if (entry && !held.has(taskId)) {
        logger.warn({ task: taskId }, 'pipeline task lease lost; stopping it');
        entry.controller.abort();
      }
    }
  };
  const reclaim = async () => {
    const n = await store.reclaimExpired(isLocalOwnerGone);
    if (n > 0) logger.info({ tasks: n }, 'pipeline tasks taken back from workers that stopped');
  };
  const triggers = async () => {
    const project = projects.get();
    const scheduled = await fireSchedules({ store, project, now: new Date(), since: started });
    const watermark = o.watermark ? await o.watermark() : undefined;
    const triggered = await fireWatermark({ store, project, watermark });
    for (const [trigger, runId] of [['schedule', scheduled], ['watermark', triggered]] as const) {
      if (!runId) continue;
      logger.info({ run: runId, trigger }, 'pipeline run triggered');
      o.onTriggered?.(trigger, runId);
    }
  };
  const every = (ms: number, fn: () => Promise<void>, what: string): NodeJS.Timeout =>
    setInterval(() => {
      fn().catch((err: unknown) => logger.warn({ err }, `pipeline worker: ${what} failed`));
    }, ms);

  const timers = [every(Math.max(50, leaseMs / 3), renew, 'renewing leases'), every(Math.max(100, leaseMs / 2), reclaim, 'taking back expired tasks')];
  if (fireTriggers) timers.push(every(o.triggerIntervalMs ?? 10_000, triggers, 'evaluating triggers'));
  const onAbort = () => wake();
  signal.addEventListener('abort', onAbort);
  try {
    await reclaim();
    if (fireTriggers) await triggers().catch((err: unknown) => logger.warn({ err }, 'pipeline worker: evaluating triggers failed'));
    let woken = false;
    let resume: (() => void) | undefined;
    wake = () => {
      woken = true;
      resume?.();
    };
    while (!signal.aborted) {
      woken = false;
      let claimed = false;
      while (inflight.size < concurrency && !signal.aborted) {
        const task = await store.claim(id, leaseMs, o.runIds);
        if (!task) break;
        claimed = true;
        start(task);
      }
      if (o.runIds !== undefined && inflight.size === 0 && !claimed && (await runsFinished(store, o.runIds))) break;
      // Something finished while claiming: look again before waiting.
      if (woken) continue;
      let poll: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        resume = resolve;
        poll = setTimeout(resolve, pollMs);
      });
      resume = undefined;
      clearTimeout(poll);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const t of timers) clearInterval(t);
    for (const t of retryTimers) clearTimeout(t);
    for (const entry of inflight.values()) entry.controller.abort();
    await Promise.all([...inflight.values()].map((e) => e.done));
    await launcher?.close();
  }
}

async function runsFinished(store: PipelineStore, runIds: readonly string[]): Promise<boolean> {
  for (const runId of runIds) if ((await store.runState(runId)) === 'running') return false;
  return true;
}
