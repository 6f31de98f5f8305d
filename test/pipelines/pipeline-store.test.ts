import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../../src/errors/catalogue.js';
import { partitionOf, WHOLE, type Partition } from '../../src/pipelines/partitions.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import type { ClaimedTask, RunPlan } from '../../src/pipelines/store/types.js';
import { STORE_FIXTURES, requireOrSkip, type StoreFixture } from '../helpers/pipeline-fixtures.js';

const W1 = 'host:1:a';
const W2 = 'host:2:b';
const LEASE = 60_000;

/** A plan from `[model, upstream indexes]` pairs, unpartitioned. */
function plan(tasks: Array<[string, number[]]>, extra: Partial<RunPlan> = {}): RunPlan {
  return { kind: 'manual', params: { test: true }, stopOnFailure: false, tasks: tasks.map(([model, upstream]) => ({ model, partition: WHOLE, upstream })), ...extra };
}

const failure = (retries: number, delayMs = 0) => ({ state: 'failed' as const, errorCode: 'WEIR_PIPELINE_STEP_FAILED', error: 'boom', log: 'it broke', retry: { retries, delayMs } });

async function claimOrFail(store: PipelineStore, worker = W1, runIds?: string[]): Promise<ClaimedTask> {
  const t = await store.claim(worker, LEASE, runIds);
  assert.ok(t, 'a task is ready');
  return t;
}

async function states(store: PipelineStore, runId: string): Promise<Record<string, string>> {
  const run = await store.getRun(runId);
  return Object.fromEntries((run?.tasks ?? []).map((t) => [t.partition.key === '' ? t.model : `${t.model}@${t.partition.key}`, t.state]));
}

for (const { name, open } of STORE_FIXTURES) {
  describe(`pipeline store on ${name}`, () => {
    const withStore = (title: string, fn: (fx: StoreFixture) => Promise<void>) =>
      it(title, async (ctx) => {
        const fx = await open();
        if (!requireOrSkip(name, fx, (r) => ctx.skip(r))) return;
        try {
          await fn(fx);
        } finally {
          await fx.cleanup();
        }
      });

    withStore('tasks become ready when all their upstream tasks succeeded; the last one finishes the run', async ({ store }) => {
      // a → b, a → c, (b, c) → d
      const runId = await store.createRun(plan([['a', []], ['b', [0]], ['c', [0]], ['d', [1, 2]]]));
      assert.deepEqual(await states(store, runId), { a: 'ready', b: 'pending', c: 'pending', d: 'pending' });
      const a = await claimOrFail(store);
      assert.equal(a.model, 'a');
      assert.equal(a.attempt, 1);
      assert.equal(await store.claim(W2, LEASE), undefined, 'nothing else is ready');
      assert.equal(await store.succeed(a, W1, { log: 'built a', warnings: 0 }), true);
      const b = await claimOrFail(store);
      const c = await claimOrFail(store, W2);
      assert.deepEqual([b.model, c.model], ['b', 'c'], 'plan order');
      await store.succeed(b, W1, { log: '', warnings: 0 });
      assert.equal((await states(store, runId)).d, 'pending', 'd still waits for c');
      await store.succeed(c, W2, { log: '', warnings: 1 });
      const d = await claimOrFail(store);
      await store.succeed(d, W1, { log: '', warnings: 0 });
      const run = await store.getRun(runId);
      assert.equal(run?.state, 'succeeded');
      assert.ok(run?.finishedAt);
      assert.deepEqual(run?.counts, { succeeded: 4 });
      assert.deepEqual(run?.tasks.find((t) => t.model === 'd')?.upstream.length, 2);
      assert.equal(await store.attemptLog(a.attemptId), 'built a');
      const attempts = await store.listAttempts({ runId });
      assert.deepEqual(attempts.map((x) => [x.number, x.state]), [[1, 'succeeded'], [1, 'succeeded'], [1, 'succeeded'], [1, 'succeeded']]);
    });

    withStore('a failure with retries left comes back after its delay; a final failure fails everything downstream', async ({ store }) => {
      // a → b → c, and x on its own
      const runId = await store.createRun(plan([['a', []], ['b', [0]], ['c', [1]], ['x', []]]));
      const a1 = await claimOrFail(store);
      assert.equal(await store.fail(a1, W1, failure(1, 3_600_000)), 'retrying');
      const x = await claimOrFail(store);
      assert.equal(x.model, 'x', 'a waits out its backoff');
      assert.equal(await store.claim(W1, LEASE), undefined);
      await store.succeed(x, W1, { log: '', warnings: 0 });
      // The same failure again with no delay: the retry is claimable at once.
      const runId2 = await store.createRun(plan([['a', []], ['b', [0]], ['c', [1]]]));
      const r1 = await claimOrFail(store, W1, [runId2]);
      assert.equal(await store.fail(r1, W1, failure(1)), 'retrying');
      const r2 = await claimOrFail(store, W1, [runId2]);
      assert.equal(r2.attempt, 2);
      assert.equal(r2.failures, 1);
      assert.equal(await store.fail(r2, W1, failure(1)), 'failed');
      assert.deepEqual(await states(store, runId2), { a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
      const run2 = await store.getRun(runId2);
      assert.equal(run2?.state, 'failed');
      assert.equal(run2?.tasks[0]?.errorCode, 'WEIR_PIPELINE_STEP_FAILED');
      assert.deepEqual((await store.listAttempts({ taskId: r2.id })).map((t) => t.state), ['failed', 'failed']);
      assert.equal((await store.getRun(runId))?.state, 'running', 'the first run still waits for a');
    });

    withStore('stop on failure skips what has not started; running tasks finish', async ({ store }) => {
      const day = (d: string): Partition => partitionOf('daily', new Date(d));
      const runId = await store.createRun({
        kind: 'backfill',
        params: {},
        stopOnFailure: true,
        tasks: ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04'].map((d) => ({ model: 'm', partition: day(d), upstream: [] })),
      });
      const first = await claimOrFail(store);
      const second = await claimOrFail(store, W2);
      assert.deepEqual([first.partition.key, second.partition.key], ['2026-01-01', '2026-01-02']);
      assert.equal(await store.fail(first, W1, failure(0)), 'failed');
      assert.deepEqual(await states(store, runId), { 'm@2026-01-01': 'failed', 'm@2026-01-02': 'running', 'm@2026-01-03': 'skipped', 'm@2026-01-04': 'skipped' });
      assert.equal((await store.getRun(runId))?.state, 'running');
      await store.succeed(second, W2, { log: '', warnings: 0 });
      assert.equal((await store.getRun(runId))?.state, 'failed');
    });

    withStore('retrying a run runs only its unsuccessful part, with fresh retries; a running run refuses', async ({ store }) => {
      // a → b, c independent and failing; d after b
      const runId = await store.createRun(plan([['a', []], ['b', [0]], ['c', []], ['d', [1]]]));
      await assert.rejects(store.retryRun(runId), (err: unknown) => err instanceof WeirError && err.code === 'WEIR_PIPELINE_RUN_ACTIVE');
      await assert.rejects(store.retryRun('run_nope'), (err: unknown) => err instanceof WeirError && err.code === 'WEIR_PIPELINE_RUN_NOT_FOUND');
      const a = await claimOrFail(store);
      await store.succeed(a, W1, { log: '', warnings: 0 });
      const b = await claimOrFail(store);
      const c = await claimOrFail(store);
      await store.fail(b, W1, failure(0));
      await store.fail(c, W1, failure(0));
      assert.deepEqual(await states(store, runId), { a: 'succeeded', b: 'failed', c: 'failed', d: 'upstream_failed' });
      assert.equal((await store.getRun(runId))?.state, 'failed');

      assert.equal(await store.retryRun(runId), 3);
      assert.deepEqual(await states(store, runId), { a: 'succeeded', b: 'ready', c: 'ready', d: 'pending' });
      const b2 = await claimOrFail(store);
      assert.equal(b2.model, 'b');
      assert.equal(b2.attempt, 2, 'attempt numbers go on');
      assert.equal(b2.failures, 0, 'retries start afresh');
      await store.succeed(b2, W1, { log: '', warnings: 0 });
      const c2 = await claimOrFail(store);
      await store.succeed(c2, W1, { log: '', warnings: 0 });
      const d = await claimOrFail(store);
      await store.succeed(d, W1, { log: '', warnings: 0 });
      assert.equal((await store.getRun(runId))?.state, 'succeeded');
      assert.equal(await store.retryRun(runId), 0, 'nothing left to retry');
    });

    withStore('a lost lease: the task is claimed again with the next attempt number and the old holder records nothing', async ({ store }) => {
      const runId = await store.createRun(plan([['a', []]]));
      const first = await claimOrFail(store);
      assert.deepEqual(await store.renewLeases(W1, LEASE), new Set([first.id]));
      assert.equal(await store.reclaimExpired(), 0, 'the lease is current');
      assert.equal(await store.reclaimExpired((owner) => owner === W1), 1, 'its owner is gone');
      assert.deepEqual(await store.renewLeases(W1, LEASE), new Set(), 'W1 learns it lost the task');
      const second = await claimOrFail(store, W2);
      assert.equal(second.attempt, 2);
      assert.equal(await store.succeed(first, W1, { log: 'late', warnings: 0 }), false);
      assert.equal(await store.fail(first, W1, failure(3)), 'lost');
      assert.equal(await store.succeed(second, W2, { log: '', warnings: 0 }), true);
      assert.deepEqual((await store.listAttempts({ runId })).map((x) => [x.number, x.worker, x.state]), [
        [1, W1, 'abandoned'],
        [2, W2, 'succeeded'],
      ]);
      assert.equal((await store.getRun(runId))?.state, 'succeeded');
    });

    withStore('a task abandoned three times fails with WEIR_PIPELINE_LEASE_EXPIRED', async ({ store }) => {
      const runId = await store.createRun(plan([['a', []], ['b', [0]]]));
      for (let i = 0; i < 3; i++) {
        await claimOrFail(store);
        await store.reclaimExpired(() => true);
      }
      const run = await store.getRun(runId);
      assert.deepEqual(run?.tasks.map((t) => [t.state, t.errorCode]), [['failed', 'WEIR_PIPELINE_LEASE_EXPIRED'], ['upstream_failed', null]]);
      assert.equal(run?.state, 'failed');
    });

    withStore('succeeding and claiming the next task in one transaction', async ({ store }) => {
      const runId = await store.createRun(plan([['a', []], ['b', [0]]]));
      const a = await claimOrFail(store);
      const { recorded, next } = await store.succeedAndClaim(a, W1, { log: '', warnings: 0 }, { leaseMs: LEASE, runIds: [runId] });
      assert.equal(recorded, true);
      assert.equal(next?.model, 'b', 'the task a made ready is claimed at once');
      assert.deepEqual(await states(store, runId), { a: 'succeeded', b: 'running' });
      await store.reclaimExpired(() => true);
      const lost = await store.succeedAndClaim(next!, W1, { log: '', warnings: 0 }, { leaseMs: LEASE });
      assert.deepEqual(lost, { recorded: false, next: undefined }, 'a lost lease records nothing and claims nothing');
    });

    withStore('released tasks are ready again at once without a failure counted', async ({ store }) => {
      await store.createRun(plan([['a', []]]));
      const t = await claimOrFail(store);
      assert.equal(await store.release(t, W1, 'interrupted'), true);
      const again = await claimOrFail(store);
      assert.equal(again.attempt, 2);
      assert.equal(again.failures, 0);
    });

    withStore("a run's maxParallel bounds its running tasks across workers", async ({ store }) => {
      const runId = await store.createRun(plan([['a', []], ['b', []], ['c', []]], { maxParallel: 2 }));
      const other = await store.createRun(plan([['z', []]]));
      const a = await claimOrFail(store, W1, [runId]);
      await claimOrFail(store, W2, [runId]);
      assert.equal(await store.claim(W1, LEASE, [runId]), undefined);
      assert.equal((await claimOrFail(store, W1, [other])).model, 'z', 'other runs are not held back');
      await store.succeed(a, W1, { log: '', warnings: 0 });
      assert.equal((await claimOrFail(store, W1, [runId])).model, 'c');
    });

    withStore('triggers fire once per key, and a run is made only of what fired now', async ({ store }) => {
      const planOf = (fired: Array<{ model: string; key: string }>): RunPlan => ({
        kind: 'watermark',
        params: {},
        stopOnFailure: false,
        tasks: fired.map((f) => ({ model: f.model, partition: partitionOf('daily', new Date(f.key)), upstream: [] })),
      });
      const first = await store.createTriggeredRun([{ model: 'm', kind: 'watermark', key: '2026-01-01' }], planOf);
      assert.ok(first);
      const second = await store.createTriggeredRun(
        [
          { model: 'm', kind: 'watermark', key: '2026-01-01' },
          { model: 'm', kind: 'watermark', key: '2026-01-02' },
        ],
        planOf,
      );
      assert.deepEqual((await store.getRun(second!))?.tasks.map((t) => t.partition.key), ['2026-01-02']);
      assert.equal(await store.createTriggeredRun([{ model: 'm', kind: 'watermark', key: '2026-01-02' }], planOf), undefined);
      assert.deepEqual(await store.lastTriggers('watermark'), new Map([['m', '2026-01-02']]));
    });

    withStore('check results are kept with history; lastRuns and listRuns summarise', async ({ store }) => {
      const check = (status: 'pass' | 'fail') => ({ check: 'not_null(id)', kind: 'not_null', severity: 'error' as const, status, failing: status === 'pass' ? 0 : 2, detail: null, query: 'select 1' });
      const run1 = await store.createRun(plan([['m', []]]));
      const t1 = await claimOrFail(store);
      await store.fail(t1, W1, { ...failure(0), state: 'check_failed', errorCode: 'WEIR_PIPELINE_CHECK_FAILED', retry: null }, [check('fail')]);
      const run2 = await store.createRun(plan([['m', []]]));
      const t2 = await claimOrFail(store);
      await store.succeed(t2, W1, { log: '', warnings: 0, checks: [check('pass')] });
      const history = await store.listCheckResults({ model: 'm', check: 'not_null(id)' });
      assert.deepEqual(history.map((h) => [h.runId, h.status, h.failing]).sort(), [[run1, 'fail', 2], [run2, 'pass', 0]].sort());
      assert.deepEqual((await store.getRun(run1))?.tasks.map((t) => t.state), ['check_failed']);
      assert.equal((await store.lastRuns()).get('m')?.runId, run2);
      const runs = await store.listRuns({ limit: 10 });
      assert.deepEqual(runs.map((r) => [r.id, r.state, r.counts]), [
        [run2, 'succeeded', { succeeded: 1 }],
        [run1, 'failed', { check_failed: 1 }],
      ]);
    });

    withStore('two stores claiming at once never get the same task', async (fx) => {
      const other = await fx.openAnother();
      const runId = await fx.store.createRun(plan(Array.from({ length: 60 }, (_, i): [string, number[]] => [`m${i}`, []])));
      const claimed: string[] = [];
      const drain = async (store: PipelineStore, worker: string) => {
        for (let t = await store.claim(worker, LEASE, [runId]); t; t = await store.claim(worker, LEASE, [runId])) {
          claimed.push(t.id);
          await store.succeed(t, worker, { log: '', warnings: 0 });
        }
      };
      await Promise.all([drain(fx.store, W1), drain(other, W2), drain(fx.store, 'host:3:c'), drain(other, 'host:4:d')]);
      assert.equal(claimed.length, 60);
      assert.equal(new Set(claimed).size, 60);
      assert.equal((await fx.store.getRun(runId))?.state, 'succeeded');
    });
  });
}
