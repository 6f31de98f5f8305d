import { Command, InvalidArgumentError } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { WeirError } from '../../errors/catalogue.js';
import { createLogger } from '../../observability/logger.js';
import type { Model, Project } from '../../pipelines/definitions/model.js';
import { formatDuration } from '../../pipelines/definitions/durations.js';
import { loadProject } from '../../pipelines/definitions/project.js';
import { backfillPartitions, manualRun, planRun, selectModels } from '../../pipelines/runner/plan.js';
import { startPipelineWorker } from '../../pipelines/runner/worker.js';
import type { PipelineStore } from '../../pipelines/store/pipeline-store.js';
import type { RunDetail, RunView, TaskState, TaskView } from '../../pipelines/store/types.js';
import { openPipelineStore, openWarehouse } from '../../server/backends.js';
import type { Warehouse } from '../../warehouse/warehouse.js';
import { formatTable, jsonLine, positiveInt, printable, shorten } from '../context.js';
import { createProgress } from '../progress.js';

/** Exit code of a run stopped by Ctrl-C, as shells report SIGINT. */
const EXIT_INTERRUPTED = 130;
/** How often a run's progress is read from the store. */
const FOLLOW_MS = 200;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** A commander parser for a date or date-time (UTC unless it says otherwise). */
function timeOption(option: string): (value: string) => Date {
  return (value: string): Date => {
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : /^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(value) ? `${value.length === 13 ? `${value}:00` : value}Z` : value;
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) throw new InvalidArgumentError(`${option} takes a date (2026-01-31) or a date-time (2026-01-31T10:00Z), not ${JSON.stringify(value)}`);
    return new Date(ms);
  };
}

interface Context {
  config: WeirConfig;
  dir: string;
}

function context(loadConfig: () => WeirConfig, command: Command): Context {
  const config = loadConfig();
  const opts = command.optsWithGlobals<{ dir?: string }>();
  return { config, dir: opts.dir ?? config.pipelines.dir };
}

function readProject(ctx: Context): Project {
  return loadProject(ctx.dir, { schema: ctx.config.pipelines.schema });
}

/** The project, refusing to go on while it has problems (printed first, all of them). */
function validProject(ctx: Context): Project {
  const project = readProject(ctx);
  if (project.problems.length > 0) {
    for (const p of project.problems) err(printable(`${p.file}:${p.line}: ${p.code}: ${p.message}`));
    throw new WeirError('WEIR_PIPELINE_INVALID', { count: project.problems.length, dir: ctx.dir });
  }
  return project;
}

async function withStore<T>(ctx: Context, fn: (store: PipelineStore) => Promise<T>): Promise<T> {
  const store = await openPipelineStore(ctx.config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function describeModel(m: Model): { kind: string; trigger: string } {
  const trigger =
    m.trigger.kind === 'schedule'
      ? `schedule ${m.trigger.cron}`
      : m.trigger.kind === 'watermark'
        ? `watermark${m.trigger.latenessMs > 0 ? ` +${formatDuration(m.trigger.latenessMs)}` : ''}`
        : 'manual';
  return { kind: m.kind === 'shell' ? 'shell' : m.materialized, trigger };
}

const SYMBOL: Record<TaskState, string> = {
  pending: '·',
  ready: '·',
  running: '…',
  succeeded: '✓',
  failed: '✗',
  check_failed: '✗',
  upstream_failed: '⊘',
  skipped: '-',
};

function countsText(counts: Partial<Record<TaskState, number>>): string {
  return (Object.entries(counts) as Array<[TaskState, number]>).map(([state, n]) => `${n} ${state}`).join(', ');
}

function taskLine(t: TaskView): string {
  // started_at is the first attempt's: after several attempts the span says little.
  const took =
    t.attempts > 1 ? ` (attempt ${t.attempts})` : t.startedAt && t.finishedAt ? ` (${((Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000).toFixed(1)} s)` : '';
  const detail = t.error ? `: ${shorten(t.error, 200)}` : t.warnings > 0 ? `: ${t.warnings} warning check(s)` : '';
  return printable(`${SYMBOL[t.state]} ${t.model}${t.partition.key ? ` ${t.partition.key}` : ''} ${t.state}${took}${detail}`);
}

/**
 * Works on a run until it has finished and reports its tasks as they finish. When this process
 * can open the warehouse it runs a worker itself; otherwise (the DuckDB file is held by a
 * running `weir up`) the server's pipeline worker does the work and this only follows it.
 */
async function execute(
  ctx: Context,
  store: PipelineStore,
  runId: string,
  opts: { concurrency: number; detach?: boolean; bar?: boolean; resumeHint: string; project?: Project },
): Promise<void> {
  if (opts.detach) {
    out(runId);
    return;
  }
  const engine = ctx.config.warehouse.engine;
  if (engine === 'none') throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'pipelines need a warehouse: warehouse.engine is "none"' });
  let warehouse: Warehouse | undefined;
  try {
    warehouse = await openWarehouse(ctx.config);
  } catch (e) {
    if (!(e instanceof WeirError && e.code === 'WEIR_WAREHOUSE_UNAVAILABLE' && engine === 'duckdb')) throw e;
    err(`weir: the warehouse is held by a running server; its pipeline worker runs ${runId} (following it here)`);
  }
  // Tasks that had finished before (a retry's succeeded part) are not reported again.
  const before = await store.getRun(runId);
  const reported = new Set((before?.tasks ?? []).filter((t) => t.finishedAt !== null).map(reportKey));
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const worker = warehouse
      ? startPipelineWorker({
          store,
          warehouse,
          dir: ctx.dir,
          logger: createLogger('warn', { role: 'pipelines' }),
          signal: stop.signal,
          runIds: [runId],
          concurrency: opts.concurrency,
          leaseMs: ctx.config.pipelines.leaseMs,
          schema: ctx.config.pipelines.schema,
          sourceSchema: ctx.config.pipelines.sourceSchema,
          pollMs: 100,
          project: opts.project,
        })
      : undefined;
    const run = await follow(store, runId, stop.signal, worker?.done, opts.bar === true, reported);
    // The worker notices the run has finished (or hands its tasks back) before the store closes.
    await worker?.done;
    if (stop.signal.aborted && run.state === 'running') {
      err(`weir: interrupted; run ${runId} is unfinished${worker ? '' : ' (the server goes on with it)'}. ${opts.resumeHint}`);
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    out(`run ${runId} ${run.state}: ${countsText(run.counts)}`);
    if (run.state !== 'succeeded') process.exitCode = 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await warehouse?.close();
  }
}

/** Reads the run from the store until it has finished (or `workerDone` resolves), reporting progress. */
async function follow(
  store: PipelineStore,
  runId: string,
  signal: AbortSignal,
  workerDone: Promise<void> | undefined,
  bar: boolean,
  reported: Set<string>,
): Promise<RunDetail> {
  const progress = bar ? createProgress({ label: `run ${runId}` }) : undefined;
  let stopped = false;
  let failure: unknown;
  void workerDone?.then(
    () => (stopped = true),
    (e: unknown) => {
      failure = e;
      stopped = true;
    },
  );
  for (;;) {
    const run = await store.getRun(runId);
    if (!run) throw new WeirError('WEIR_PIPELINE_RUN_NOT_FOUND', { run: runId });
    const finished = run.tasks.filter((t) => t.finishedAt !== null && t.state !== 'pending' && t.state !== 'ready' && t.state !== 'running');
    if (progress) {
      const running = run.tasks.filter((t) => t.state === 'running').length;
      const failed = finished.filter((t) => t.state !== 'succeeded').length;
      progress.update(finished.length, run.tasks.length, [running > 0 ? `${running} running` : '', failed > 0 ? `${failed} not succeeded` : ''].filter(Boolean).join(', '));
    } else {
      for (const t of finished) {
        const key = reportKey(t);
        if (reported.has(key)) continue;
        reported.add(key);
        out(taskLine(t));
      }
    }
    if (run.state !== 'running' || stopped || (signal.aborted && !workerDone)) {
      progress?.finish();
      if (failure !== undefined) throw failure;
      if (progress) for (const t of finished.filter((x) => x.state !== 'succeeded' && x.state !== 'skipped')) err(taskLine(t));
      return run;
    }
    await new Promise((r) => setTimeout(r, FOLLOW_MS));
  }
}

function reportKey(t: TaskView): string {
  return `${t.id}:${t.state}:${t.finishedAt}`;
}

function runsTable(runs: RunView[]): string[] {
  return formatTable(
    ['run', 'kind', 'state', 'tasks', 'created', 'took'],
    runs.map((r) => [
      r.id,
      r.kind,
      r.state,
      countsText(r.counts),
      r.createdAt.replace('T', ' ').slice(0, 19),
      r.finishedAt ? `${((Date.parse(r.finishedAt) - Date.parse(r.createdAt)) / 1000).toFixed(1)} s` : '',
    ]),
  );
}

/**
 * `weir pipelines list | validate | run | backfill | status | retry`.
 *
 * @example
 * ```sh
 * weir pipelines run sessions+ --partition 2026-01-31
 * weir pipelines backfill page_engagement --from 2026-01-01 --to 2026-01-31 --concurrency 4
 * ```
 */
export function register(program: Command, loadConfig: () => WeirConfig): void {
  const pipelines = program
    .command('pipelines')
    .description('SQL models and shell steps of the pipelines folder: runs, backfills, checks, history')
    .option('--dir <folder>', 'the pipelines folder (default: pipelines.dir, ./pipelines)');

  pipelines
    .command('list')
    .description('models, their triggers and the state of their last run')
    .option('--json', 'one JSON object per model')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const ctx = context(loadConfig, command);
      const project = readProject(ctx);
      for (const p of project.problems) err(printable(`${p.file}:${p.line}: ${p.code}: ${p.message}`));
      const last = await withStore(ctx, (store) => store.lastRuns());
      const names = [...project.order, ...[...project.models.keys()].filter((n) => !project.order.includes(n)).sort()];
      const rows = names.map((name) => {
        const m = project.models.get(name)!;
        const l = last.get(name);
        return { name, file: m.file, ...describeModel(m), partition: m.partition, upstream: m.upstream, last: l ?? null };
      });
      if (opts.json) {
        for (const r of rows) out(jsonLine(r));
        return;
      }
      for (const line of formatTable(
        ['model', 'kind', 'partition', 'trigger', 'upstream', 'last run'],
        rows.map((r) => [r.name, r.kind, r.partition, r.trigger, r.upstream.join(', '), r.last ? `${r.last.state} ${r.last.partitionKey} ${r.last.finishedAt.slice(0, 19).replace('T', ' ')}`.replace('  ', ' ') : '']),
      )) {
        out(printable(line));
      }
    });

  pipelines
    .command('validate')
    .description('check every definition: headers, templates, references, cycles')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = context(loadConfig, command);
      const project = validProject(ctx);
      out(`${project.models.size} model(s) in ${ctx.dir}, no problems`);
    });

  pipelines
    .command('run')
    .description('run models now: all, or the ones named (model+ adds what is downstream, +model what is upstream)')
    .argument('[models...]', 'models to run')
    .option('--partition <time>', 'the partition holding this time (default: the last complete one)', timeOption('--partition'))
    .option('--full', 'rebuild incremental models from scratch')
    .option('--concurrency <n>', 'tasks at once', positiveInt('--concurrency'))
    .option('--detach', 'create the run, print its id and leave it to a running worker')
    .action(async (models: string[], opts: { partition?: Date; full?: boolean; concurrency?: number; detach?: boolean }, command: Command) => {
      const ctx = context(loadConfig, command);
      const project = validProject(ctx);
      const plan = manualRun(project, { models, partition: opts.partition, full: opts.full, now: new Date() });
      await withStore(ctx, async (store) => {
        const runId = await store.createRun(plan);
        const run = await store.getRun(runId);
        err(`weir: run ${runId}: ${run?.taskCount ?? 0} task(s)`);
        await execute(ctx, store, runId, {
          concurrency: opts.concurrency ?? ctx.config.pipelines.concurrency,
          detach: opts.detach,
          resumeHint: `\`weir pipelines retry ${runId}\` once it has finished runs what did not succeed.`,
          project,
        });
      });
    });

  pipelines
    .command('backfill')
    .description('run one model (and with --downstream what depends on it) over a range of partitions')
    .argument('<model>', 'a partitioned model')
    .requiredOption('--from <date>', 'first partition (the one holding this time)', timeOption('--from'))
    .requiredOption('--to <date>', 'last partition, included', timeOption('--to'))
    .option('--concurrency <n>', 'partitions at once', positiveInt('--concurrency'), 1)
    .option('--continue-on-failure', 'go on after a partition fails (default: stop at the first failure)')
    .option('--downstream', 'also run the models that depend on it, for the same range')
    .option('--resume <runId>', 'continue this run: its unfinished, failed and skipped tasks run again')
    .option('--detach', 'create the run, print its id and leave it to a running worker')
    .action(
      async (
        name: string,
        opts: { from: Date; to: Date; concurrency: number; continueOnFailure?: boolean; downstream?: boolean; resume?: string; detach?: boolean },
        command: Command,
      ) => {
        const ctx = context(loadConfig, command);
        if (opts.to < opts.from) {
          throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--to', value: opts.to.toISOString(), detail: `before --from ${opts.from.toISOString()}` });
        }
        const project = validProject(ctx);
        const model = project.models.get(name);
        if (!model) throw new WeirError('WEIR_PIPELINE_NOT_FOUND', { model: name });
        if (model.partition === 'none') throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '<model>', value: name, detail: 'a backfill needs a partitioned model (partition: hourly or daily)' });
        const runKey = `backfill ${name}${opts.downstream ? '+' : ''} ${opts.from.toISOString()} ${opts.to.toISOString()}`;
        const again = `Run the same command again, or \`weir pipelines backfill ${name} … --resume <run>\`, to continue.`;
        await withStore(ctx, async (store) => {
          let runId: string;
          if (opts.resume !== undefined) {
            runId = opts.resume;
            const reset = await store.retryRun(runId, { resume: true });
            err(`weir: resuming run ${runId}${reset > 0 ? ` (${reset} task(s) run again)` : ''}`);
          } else {
            const unfinished = (await store.listRuns({ runKey, state: 'running', limit: 1 }))[0];
            if (unfinished) {
              runId = unfinished.id;
              const done = (unfinished.counts.succeeded ?? 0) + (unfinished.counts.failed ?? 0) + (unfinished.counts.skipped ?? 0);
              err(`weir: continuing the unfinished run ${runId} of this backfill (${done}/${unfinished.taskCount} done)`);
            } else {
              runId = await store.createRun(
                planRun(project, {
                  kind: 'backfill',
                  models: selectModels(project, [opts.downstream ? `${name}+` : name]),
                  partitions: backfillPartitions(opts.from, opts.to),
                  params: { model: name, from: opts.from.toISOString(), to: opts.to.toISOString(), downstream: opts.downstream === true },
                  runKey,
                  maxParallel: opts.concurrency,
                  stopOnFailure: !opts.continueOnFailure,
                }),
              );
              const run = await store.getRun(runId);
              err(`weir: backfill run ${runId}: ${run?.taskCount ?? 0} task(s)`);
            }
          }
          await execute(ctx, store, runId, { concurrency: opts.concurrency, detach: opts.detach, bar: true, resumeHint: again, project });
        });
      },
    );

  pipelines
    .command('status')
    .description('recent runs, or one run: its tasks with state, attempts, times and check results')
    .argument('[runId]', 'the run to show')
    .option('--limit <n>', 'runs to list', positiveInt('--limit'), 20)
    .option('--json', 'JSON instead of tables')
    .action(async (runId: string | undefined, opts: { limit: number; json?: boolean }, command: Command) => {
      const ctx = context(loadConfig, command);
      await withStore(ctx, async (store) => {
        if (runId === undefined) {
          const runs = await store.listRuns({ limit: opts.limit });
          if (opts.json) for (const r of runs) out(jsonLine(r));
          else if (runs.length === 0) out('no runs yet');
          else for (const line of runsTable(runs)) out(printable(line));
          return;
        }
        const run = await store.getRun(runId);
        if (!run) throw new WeirError('WEIR_PIPELINE_RUN_NOT_FOUND', { run: runId });
        const attempts = await store.listAttempts({ runId });
        const checks = await store.listCheckResults({ runId });
        if (opts.json) {
          out(jsonLine({ ...run, attempts, checks }));
          return;
        }
        for (const line of runsTable([run])) out(printable(line));
        out(printable(`params: ${JSON.stringify(run.params)}`));
        out('');
        const checksOf = (taskId: string) => {
          const latest = new Map<string, (typeof checks)[number]>();
          for (const c of checks.filter((x) => x.taskId === taskId)) if (!latest.has(c.check)) latest.set(c.check, c);
          const list = [...latest.values()];
          const failed = list.filter((c) => c.status === 'fail');
          if (list.length === 0) return '';
          return failed.length === 0 ? `${list.length} pass` : `${list.length - failed.length} pass, ${failed.map((c) => `${c.check} ${c.severity === 'warn' ? 'warn' : 'FAIL'}`).join(', ')}`;
        };
        for (const line of formatTable(
          ['model', 'partition', 'state', 'attempts', 'started', 'took', 'checks', 'error'],
          run.tasks.map((t) => [
            t.model,
            t.partition.key,
            t.state,
            String(t.attempts),
            t.startedAt ? t.startedAt.replace('T', ' ').slice(0, 19) : '',
            t.startedAt && t.finishedAt ? `${((Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000).toFixed(1)} s` : '',
            checksOf(t.id),
            shorten(t.error ?? '', 120),
          ]),
        )) {
          out(printable(line));
        }
      });
    });

  pipelines
    .command('retry')
    .description('run the failed part of a finished run again: its failed, upstream-failed and skipped tasks')
    .argument('<runId>', 'the run')
    .option('--concurrency <n>', 'tasks at once', positiveInt('--concurrency'))
    .option('--detach', 'reset the tasks and leave them to a running worker')
    .action(async (runId: string, opts: { concurrency?: number; detach?: boolean }, command: Command) => {
      const ctx = context(loadConfig, command);
      await withStore(ctx, async (store) => {
        const reset = await store.retryRun(runId);
        if (reset === 0) {
          out(`run ${runId}: nothing to retry`);
          return;
        }
        err(`weir: run ${runId}: ${reset} task(s) run again`);
        await execute(ctx, store, runId, {
          concurrency: opts.concurrency ?? ctx.config.pipelines.concurrency,
          detach: opts.detach,
          resumeHint: `\`weir pipelines retry ${runId}\` once it has finished runs what did not succeed.`,
        });
      });
    });
}
