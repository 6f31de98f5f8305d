/**
 * Weir pipelines: SQL models and shell steps of a folder, run per partition by workers that
 * share a metadata store. What other parts of Weir use:
 *
 * - `startPipelineWorker` runs tasks (and, given the loader's watermark, triggers) in a process
 *   that can open the warehouse: the sinks process of `weir up`, or `weir worker`;
 * - `PipelineStore` (open with `openSqlitePipelineStore` / `openPostgresPipelineStore`, or
 *   `openPipelineStore(config)` in `server/backends.ts`) answers the UI and the API with
 *   JSON-friendly runs, tasks, attempts, logs and check results;
 * - `loadProject` reads and validates the folder; `planRun` turns a request into a run.
 *
 * @example
 * ```ts
 * const store = await openPipelineStore(config);
 * const worker = startPipelineWorker({ store, warehouse, dir: config.pipelines.dir, logger, signal, watermark });
 * const runs = await store.listRuns({ limit: 20 });
 * ```
 */
export { loadProject } from './definitions/project.js';
export type { CheckSpec, Grain, Materialized, Model, Problem, Project, ShellStep, SqlModel, Trigger } from './definitions/model.js';
export { topologicalOrder, selectNodes } from './graph.js';
export { partitionOf, partitionsBetween, lastCompletePartition, type Partition } from './partitions.js';
export { planRun, selectModels, manualPartitions, manualRun, backfillPartitions, type PlanRequest } from './runner/plan.js';
export { startPipelineWorker, type PipelineWorker, type PipelineWorkerOptions } from './runner/worker.js';
export { PipelineStore } from './store/pipeline-store.js';
export { openPostgresPipelineStore, openSqlitePipelineStore } from './store/open.js';
export type * from './store/types.js';
export { fireSchedules, fireWatermark } from './triggers/triggers.js';
