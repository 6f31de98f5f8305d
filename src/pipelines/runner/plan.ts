/**
 * From "these models, these partitions" to the tasks of a run and the dependencies between
 * them: a task waits for every task of each model it depends on whose window overlaps its own
 * (an unpartitioned task overlaps everything), so a daily model waits for the 24 hours of an
 * hourly one, and a table built from a partitioned model waits for all of its partitions.
 */
import { WeirError } from '../../errors/catalogue.js';
import { selectNodes } from '../graph.js';
import type { Model, Project } from '../definitions/model.js';
import { fullPartition, lastCompletePartition, overlaps, partitionOf, partitionsBetween, WHOLE, type Partition } from '../partitions.js';
import type { PlannedTask, RunKind, RunPlan } from '../store/types.js';

export interface PlanRequest {
  kind: RunKind;
  /** The models to run. */
  models: Iterable<string>;
  /** The partitions of each model. */
  partitions: (model: Model) => Partition[];
  params: Record<string, unknown>;
  runKey?: string;
  maxParallel?: number;
  stopOnFailure: boolean;
}

/**
 * The run for a request. Tasks are ordered oldest partition first, then upstream before
 * downstream, which is the order workers claim them in.
 *
 * @example
 * ```ts
 * const plan = planRun(project, { kind: 'manual', models: ['sessions'], partitions: () => [partitionOf('daily', now)], params: {}, stopOnFailure: false });
 * ```
 */
export function planRun(project: Project, request: PlanRequest): RunPlan {
  const rank = new Map(project.order.map((name, i) => [name, i]));
  const selected = [...new Set(request.models)].filter((m) => project.models.has(m)).sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  const drafts: Array<{ model: Model; partition: Partition }> = [];
  for (const name of selected) {
    const model = project.models.get(name)!;
    for (const partition of request.partitions(model)) drafts.push({ model, partition });
  }
  drafts.sort((a, b) => {
    const s = (a.partition.start?.getTime() ?? -Infinity) - (b.partition.start?.getTime() ?? -Infinity);
    return s !== 0 && !Number.isNaN(s) ? s : (rank.get(a.model.name) ?? 0) - (rank.get(b.model.name) ?? 0);
  });
  const byModel = new Map<string, number[]>();
  drafts.forEach((d, i) => {
    let list = byModel.get(d.model.name);
    if (!list) byModel.set(d.model.name, (list = []));
    list.push(i);
  });
  const tasks: PlannedTask[] = drafts.map((d) => ({
    model: d.model.name,
    partition: d.partition,
    upstream: d.model.upstream.flatMap((up) => (byModel.get(up) ?? []).filter((j) => overlaps(drafts[j]!.partition, d.partition))),
  }));
  return { kind: request.kind, params: request.params, runKey: request.runKey, maxParallel: request.maxParallel, stopOnFailure: request.stopOnFailure, tasks };
}

/**
 * The models a list of selectors names (`name`, `name+`, `+name`, `+name+`), all models when
 * the list is empty. Unknown names are `WEIR_PIPELINE_NOT_FOUND`.
 */
export function selectModels(project: Project, selectors: readonly string[]): string[] {
  if (selectors.length === 0) return [...project.order];
  const { selected, unknown } = selectNodes(selectors, new Set(project.models.keys()), (n) => project.models.get(n)?.upstream ?? []);
  if (unknown.length > 0) throw new WeirError('WEIR_PIPELINE_NOT_FOUND', { model: unknown.join(', ') });
  return project.order.filter((n) => selected.has(n));
}

/**
 * The partition a manual run gives each model: the one holding `at` when given, else the last
 * complete one; `full` rebuilds incremental models whole.
 */
export function manualPartitions(options: { at?: Date; full?: boolean; now: Date }): (model: Model) => Partition[] {
  return (model) => {
    if (model.partition === 'none') return [WHOLE];
    if (options.full && model.kind === 'sql' && model.materialized === 'incremental') return [fullPartition(model.partition, options.now)];
    return [options.at ? partitionOf(model.partition, options.at) : lastCompletePartition(model.partition, options.now)];
  };
}

/** A backfill's partitions: every partition from `from` to `to` (both included); unpartitioned models once. */
export function backfillPartitions(from: Date, to: Date): (model: Model) => Partition[] {
  return (model) => partitionsBetween(model.partition, from, to);
}

/**
 * The run `weir pipelines run` and the API's "run now" create: the selected models (all when
 * none is named; `name+` and `+name` as in {@link selectModels}), one partition each.
 *
 * @example
 * ```ts
 * const runId = await store.createRun(manualRun(project, { models: ['sessions+'], now: new Date() }));
 * ```
 */
export function manualRun(project: Project, request: { models: readonly string[]; partition?: Date; full?: boolean; now: Date; via?: string }): RunPlan {
  return planRun(project, {
    kind: 'manual',
    models: selectModels(project, request.models),
    partitions: manualPartitions({ at: request.partition, full: request.full, now: request.now }),
    params: { models: request.models, partition: request.partition?.toISOString(), full: request.full === true, ...(request.via === undefined ? {} : { via: request.via }) },
    stopOnFailure: false,
  });
}
