/**
 * What starts runs without a person: cron schedules, and the warehouse loader's event-time
 * watermark. Each evaluation turns what became due into one run; the store records each
 * (model, tick) and (model, partition) so it fires once, whichever worker evaluates first.
 */
import { Cron } from 'croner';
import type { Model, Project } from '../definitions/model.js';
import { lastCompletePartition, partitionOf, partitionsBetween, type Partition } from '../partitions.js';
import { planRun } from '../runner/plan.js';
import type { PipelineStore } from '../store/pipeline-store.js';

/** Partitions one evaluation fires at most per model; the rest follow at the next. */
const MAX_PARTITIONS_PER_EVALUATION = 1000;

/**
 * The scheduled models due at `now`: for each, its newest cron tick at or before `now` that has
 * not fired yet. A model that never fired does not fire a tick from before `since` (when the
 * worker started), so a new schedule starts with its next tick; one that has fired catches up
 * its newest missed tick (only that one: older ones are a backfill's job). The run holds each
 * fired model's last complete partition at its tick.
 *
 * @example
 * ```ts
 * const runId = await fireSchedules({ store, project, now: new Date(), since: workerStarted });
 * ```
 */
export async function fireSchedules(ctx: { store: PipelineStore; project: Project; now: Date; since: Date }): Promise<string | undefined> {
  const last = await ctx.store.lastTriggers('schedule');
  const ticks = new Map<string, Date>();
  for (const model of ctx.project.models.values()) {
    if (model.trigger.kind !== 'schedule') continue;
    const tick = new Cron(model.trigger.cron, { paused: true, timezone: 'UTC' }).previousRuns(1, new Date(ctx.now.getTime() + 1))[0];
    if (!tick) continue;
    const key = tick.toISOString();
    const previous = last.get(model.name);
    if (previous === undefined ? tick < ctx.since : previous >= key) continue;
    ticks.set(model.name, tick);
  }
  const candidates = [...ticks].map(([model, tick]) => ({ model, kind: 'schedule' as const, key: tick.toISOString() }));
  return ctx.store.createTriggeredRun(candidates, (fired) =>
    planRun(ctx.project, {
      kind: 'schedule',
      models: fired.map((f) => f.model),
      partitions: (m) => [lastCompletePartition(m.partition, ticks.get(m.name) ?? ctx.now)],
      params: { ticks: Object.fromEntries(fired.map((f) => [f.model, f.key])) },
      stopOnFailure: false,
    }),
  );
}

/**
 * The watermark-triggered partitions due: a partition `[start, end)` is due once the watermark
 * is at or past `end + lateness`. Each model continues after the newest partition it fired;
 * the first time, from its header's `start`, or else with the newest due partition only.
 *
 * @example
 * ```ts
 * const runId = await fireWatermark({ store, project, watermark: await loaderWatermark() });
 * ```
 */
export async function fireWatermark(ctx: { store: PipelineStore; project: Project; watermark: Date | undefined }): Promise<string | undefined> {
  const watermark = ctx.watermark;
  if (!watermark) return undefined;
  const last = await ctx.store.lastTriggers('watermark');
  const due = new Map<string, Partition[]>();
  for (const model of ctx.project.models.values()) {
    if (model.trigger.kind !== 'watermark' || model.partition === 'none') continue;
    const newest = lastCompletePartition(model.partition, new Date(watermark.getTime() - model.trigger.latenessMs));
    const previous = last.get(model.name);
    const from = previous !== undefined ? partitionOf(model.partition, new Date(previous)).end! : (model.start ?? newest.start!);
    if (from > newest.start!) continue;
    due.set(model.name, partitionsBetween(model.partition, from, newest.start!, MAX_PARTITIONS_PER_EVALUATION));
  }
  const candidates = [...due].flatMap(([model, parts]) => parts.map((p) => ({ model, kind: 'watermark' as const, key: p.start!.toISOString() })));
  return ctx.store.createTriggeredRun(candidates, (fired) => {
    const keys = new Set(fired.map((f) => `${f.model} ${f.key}`));
    return planRun(ctx.project, {
      kind: 'watermark',
      models: new Set(fired.map((f) => f.model)),
      partitions: (m: Model) => (due.get(m.name) ?? []).filter((p) => keys.has(`${m.name} ${p.start!.toISOString()}`)),
      params: { watermark: watermark.toISOString() },
      stopOnFailure: false,
    });
  });
}
