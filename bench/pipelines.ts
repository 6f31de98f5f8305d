/**
 * `npm run bench:pipelines`: orchestration overhead per task of the pipeline runner on a
 * 1,000-task DAG of no-op steps, side by side with GNU make running the same graph shape.
 *
 * The DAG: BENCH_TASKS nodes in BENCH_LAYERS layers; each node after the first layer depends on
 * one to three nodes of earlier layers (mulberry32, seed 7, so every run has the same graph).
 *
 * - weir: one shell step per node (`# depends_on: […]`, body `:`), run by one worker of
 *   BENCH_JOBS tasks at once. Wall time from loading the folder to the run's end: parsing,
 *   planning, creating the run and its 1,000 tasks, and per task a claim, a process, the attempt
 *   and its dependents recorded in the metadata store (SQLite file; Postgres when it answers).
 * - make: the same graph as a Makefile, `make -j BENCH_JOBS`; recipes `@true` start a process
 *   per task like the shell steps do (like for like). GNU make runs a recipe of just `:` without
 *   starting anything, so `@:` is shown too, as the floor of an in-memory scheduler.
 * - store only: the same claims and recordings without any process, BENCH_JOBS at a time: the
 *   metadata store's share of the overhead.
 *
 * Overhead per task = wall time / tasks (the steps do no work). Targets: ≤ 10 ms per task and
 * within 2× of make. Every runner runs at each parallelism of BENCH_JOBS (the machine's
 * parallelism, at least 2, and 8), make and Weir alike.
 * Env: BENCH_TASKS (1000), BENCH_LAYERS (25), BENCH_JOBS (e.g. "2,8"), BENCH_ROUNDS (3: the best
 * round is reported), BENCH_STORES (sqlite,postgres).
 * `--json <file>` also writes the figures as `{ name, machine, date, figures: [{ label, value,
 * unit, target?, met? }] }` (what `npm run bench` collects).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '../src/observability/logger.js';
import { loadProject } from '../src/pipelines/definitions/project.js';
import { WHOLE } from '../src/pipelines/partitions.js';
import { planRun } from '../src/pipelines/runner/plan.js';
import { startPipelineWorker } from '../src/pipelines/runner/worker.js';
import { openPostgresPipelineStore, openSqlitePipelineStore } from '../src/pipelines/store/open.js';
import type { PipelineStore } from '../src/pipelines/store/pipeline-store.js';
import { openDuckDbWarehouse } from '../src/warehouse/duckdb/index.js';
import { layeredDag } from '../test/helpers/layered-dag.js';
import { atMost, startBench } from './report.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 1000);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 25);
const JOB_LIST = (process.env.BENCH_JOBS ?? `${Math.max(2, availableParallelism())},8`).split(',').map(Number);
let JOBS = JOB_LIST[0]!;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const rec = startBench('pipelines');

function progress(line: string): void {
  process.stderr.write(`[bench:pipelines] ${line}\n`);
}

function writeSteps(dir: string, deps: number[][]): void {
  deps.forEach((ups, i) => {
    const header = ups.length > 0 ? `# depends_on: [${ups.map((u) => `t${u}`).join(', ')}]\n` : '';
    writeFileSync(join(dir, `t${i}.sh`), `${header}:\n`);
  });
}

function writeMakefile(file: string, deps: number[][], recipe: string): void {
  const lines = [`.PHONY: all ${deps.map((_, i) => `t${i}`).join(' ')}`, `all: ${deps.map((_, i) => `t${i}`).join(' ')}`];
  deps.forEach((ups, i) => lines.push(`t${i}: ${ups.map((u) => `t${u}`).join(' ')}`, `\t${recipe}`));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function timeMake(file: string): number {
  const started = performance.now();
  const r = spawnSync('make', ['-f', file, '-j', String(JOBS), '-s', 'all'], { encoding: 'utf8' });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`make failed: ${r.stderr}`);
  return ms;
}

interface Opened {
  store: PipelineStore;
  cleanup(): Promise<void>;
}

async function openStore(kind: string, scratch: string, round: number): Promise<Opened | undefined> {
  if (kind === 'sqlite') {
    const store = await openSqlitePipelineStore({ file: join(scratch, `meta-${round}.sqlite`) });
    return { store, cleanup: () => store.close() };
  }
  const schema = `bench_pipelines_${process.pid}_${round}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (err) {
    progress(`postgres skipped: ${(err as Error).message}`);
    return undefined;
  }
  await admin.query(`drop schema if exists ${schema} cascade`);
  const store = await openPostgresPipelineStore({ url: PG_URL, schema, poolSize: JOBS + 2 });
  return {
    store,
    async cleanup() {
      await store.close();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

/** Loads the folder, plans and creates the run, and works on it until it has finished. */
async function timeWeir(store: PipelineStore, dir: string, warehouse: Awaited<ReturnType<typeof openDuckDbWarehouse>>): Promise<{ ms: number; createMs: number }> {
  const started = performance.now();
  const project = loadProject(dir, { schema: 'analytics' });
  if (project.problems.length > 0) throw new Error(project.problems[0]!.message);
  const runId = await store.createRun(planRun(project, { kind: 'manual', models: project.order, partitions: () => [WHOLE], params: {}, stopOnFailure: false }));
  const createMs = performance.now() - started;
  const worker = startPipelineWorker({ store, warehouse, dir, logger: createLogger('warn'), signal: new AbortController().signal, runIds: [runId], concurrency: JOBS, pollMs: 50, project });
  await worker.done;
  const ms = performance.now() - started;
  const run = await store.getRun(runId);
  if (run?.state !== 'succeeded' || run.counts.succeeded !== TASKS) throw new Error(`run ended ${run?.state}: ${JSON.stringify(run?.counts)}`);
  return { ms, createMs };
}

/** The same claims and recordings, no processes: JOBS claimers on one store. */
async function timeStoreOnly(store: PipelineStore, dir: string): Promise<number> {
  const project = loadProject(dir, { schema: 'analytics' });
  const runId = await store.createRun(planRun(project, { kind: 'manual', models: project.order, partitions: () => [WHOLE], params: {}, stopOnFailure: false }));
  const started = performance.now();
  let done = 0;
  const claimer = async (n: number) => {
    const worker = `bench:${process.pid}:${n}`;
    while (done < TASKS) {
      const task = await store.claim(worker, 60_000, [runId]);
      if (!task) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      await store.succeed(task, worker, { log: '', warnings: 0 });
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: JOBS }, (_, n) => claimer(n)));
  return performance.now() - started;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const perTask = (ms: number) => `${(ms / TASKS).toFixed(2)} ms`;

/** Targets of the issue: overhead per task, and the ratio to make starting a process per recipe. */
const TARGET_MS_PER_TASK = 10;
const TARGET_VS_MAKE = 2;

interface Figure {
  label: string;
  value: number;
  unit: string;
  target?: number;
  met?: boolean;
}


async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { json: { type: 'string' } } });
  const figures: Figure[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'weir-bench-pipelines-'));
  const steps = join(scratch, 'pipelines');
  const deps = layeredDag(TASKS, LAYERS, 7);
  spawnSync('mkdir', ['-p', steps]);
  writeSteps(steps, deps);
  writeMakefile(join(scratch, 'Makefile.true'), deps, '@true');
  writeMakefile(join(scratch, 'Makefile.colon'), deps, '@:');
  const edges = deps.reduce((n, d) => n + d.length, 0);
  progress(`${TASKS} tasks, ${edges} edges, ${LAYERS} layers, parallelism ${JOB_LIST.join(' and ')}, best of ${ROUNDS}`);
  const warehouse = await openDuckDbWarehouse({ file: join(scratch, 'warehouse.duckdb') });
  const rows: string[] = [];
  const best = (xs: number[]) => Math.min(...xs);
  try {
    for (const jobs of JOB_LIST) {
      JOBS = jobs;
      const makeTrue = best(Array.from({ length: ROUNDS }, () => timeMake(join(scratch, 'Makefile.true'))));
      const makeColon = best(Array.from({ length: ROUNDS }, () => timeMake(join(scratch, 'Makefile.colon'))));
      const row = (name: string, ms: number, note = '') => {
        rows.push(`| ${jobs} | ${name} | ${ms.toFixed(0)} ms | ${perTask(ms)} | ${(ms / makeTrue).toFixed(2)}× | ${note} |`);
        // Targets: ≤ 10 ms a task and within 2× of make, for Weir's full runs.
        const weir = name.startsWith('weir');
        rec.figure({ label: `${jobs} at a time, ${name}: per task`, value: ms / TASKS, unit: 'ms', ...(weir ? atMost(ms / TASKS, 10, 'ms') : {}) });
        if (weir) rec.figure({ label: `${jobs} at a time, ${name}: vs make \`@true\``, value: ms / makeTrue, unit: '×', ...atMost(ms / makeTrue, 2, '×') });
      };
      for (const kind of STORES) {
        const weir: number[] = [];
        const create: number[] = [];
        const storeOnly: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const opened = await openStore(kind, scratch, round);
          if (!opened) break;
          try {
            const r = await timeWeir(opened.store, steps, warehouse);
            weir.push(r.ms);
            create.push(r.createMs);
            storeOnly.push(await timeStoreOnly(opened.store, steps));
          } finally {
            await opened.cleanup();
          }
          progress(`${jobs} at a time, ${kind} round ${round + 1}: ${perTask(weir[weir.length - 1]!)} per task`);
        }
        if (weir.length === 0) continue;
        row(`weir, shell steps \`:\`, ${kind} metadata`, best(weir), `load + plan + create run: ${best(create).toFixed(0)} ms`);
        row(`store only (claim + record, no process), ${kind}`, best(storeOnly));
        const ms = best(weir) / TASKS;
        const ratio = best(weir) / makeTrue;
        figures.push(
          { label: `weir per task, ${kind}, ${jobs} at a time`, value: round3(ms), unit: 'ms', target: TARGET_MS_PER_TASK, met: ms <= TARGET_MS_PER_TASK },
          { label: `weir vs make -j (process per recipe), ${kind}, ${jobs} at a time`, value: round3(ratio), unit: '×', target: TARGET_VS_MAKE, met: ratio <= TARGET_VS_MAKE },
          { label: `store only per task, ${kind}, ${jobs} at a time`, value: round3(best(storeOnly) / TASKS), unit: 'ms' },
        );
      }
      figures.push({ label: `make per task (process per recipe), ${jobs} at a time`, value: round3(makeTrue / TASKS), unit: 'ms' });
      row('make, recipes `@true` (a process per task)', makeTrue);
      row('make, recipes `@:` (no process)', makeColon);
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`;
    if (args.json !== undefined) {
      writeFileSync(args.json, `${JSON.stringify({ name: 'pipelines', machine, date: new Date().toISOString(), figures }, null, 2)}\n`);
    }
    const lines = [
      `Machine: ${machine}`,
      `DAG: ${TASKS} tasks, ${edges} edges, ${LAYERS} layers (seed 7); best of ${ROUNDS} rounds`,
      '',
      '| at a time | runner | wall | per task | vs make `@true` | note |',
      '|---|---|---|---|---|---|',
      ...rows,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    rec.note(`DAG: ${TASKS} tasks, ${edges} edges, ${LAYERS} layers (seed 7); best of ${ROUNDS} rounds; steps are no-op shell steps \`:\`.`);
    rec.finish();
  } finally {
    await warehouse.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
