import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../../src/observability/logger.js';
import type { Project } from '../../src/pipelines/definitions/model.js';
import { loadProject } from '../../src/pipelines/definitions/project.js';
import { planRun, type PlanRequest } from '../../src/pipelines/runner/plan.js';
import { startPipelineWorker, type PipelineWorkerOptions } from '../../src/pipelines/runner/worker.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import type { RunDetail } from '../../src/pipelines/store/types.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';

/** A pipelines folder in a temporary directory, from file name → text. */
export function writeProject(files: Record<string, string>, dir = mkdtempSync(join(tmpdir(), 'weir-pipelines-'))): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const SCHEMA = 'analytics';

export function load(dir: string): Project {
  const project = loadProject(dir, { schema: SCHEMA });
  if (project.problems.length > 0) throw new Error(`pipeline problems: ${project.problems.map((p) => `${p.file}:${p.line} ${p.message}`).join('; ')}`);
  return project;
}

/** Creates the run and works on it in this process until it has finished. */
export async function runToEnd(
  ctx: { store: PipelineStore; warehouse: Warehouse; dir: string },
  request: Omit<PlanRequest, 'params' | 'kind'> & Partial<Pick<PlanRequest, 'params' | 'kind'>>,
  worker: Partial<PipelineWorkerOptions> = {},
): Promise<RunDetail> {
  const project = load(ctx.dir);
  const runId = await ctx.store.createRun(planRun(project, { kind: 'manual', params: {}, ...request }));
  return workOn(ctx, runId, worker);
}

/** Runs a worker on one run until the run has finished; the run as it ended. */
export async function workOn(ctx: { store: PipelineStore; warehouse: Warehouse; dir: string }, runId: string, worker: Partial<PipelineWorkerOptions> = {}): Promise<RunDetail> {
  const w = startPipelineWorker({
    store: ctx.store,
    warehouse: ctx.warehouse,
    dir: ctx.dir,
    logger: createLogger('silent'),
    signal: new AbortController().signal,
    runIds: [runId],
    pollMs: 20,
    concurrency: 4,
    sourceSchema: 'web',
    ...worker,
  });
  await w.done;
  const run = await ctx.store.getRun(runId);
  if (!run) throw new Error(`run ${runId} vanished`);
  return run;
}

/** `model@partition → state` of a run, for compact assertions. */
export function taskStates(run: RunDetail): Record<string, string> {
  return Object.fromEntries(run.tasks.map((t) => [t.partition.key === '' ? t.model : `${t.model}@${t.partition.key}`, t.state]));
}
