import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOf, WHOLE } from '../../src/pipelines/partitions.js';
import { backfillPartitions, manualPartitions } from '../../src/pipelines/runner/plan.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';
import { sqliteStoreFixture, type StoreFixture } from '../helpers/pipeline-fixtures.js';
import { load, removeProject, runToEnd, taskStates, workOn, writeProject, SCHEMA } from '../helpers/pipeline-project.js';
import { duckDbFixture } from '../helpers/warehouse-fixtures.js';
import type { WarehouseFixture } from '../contract/warehouse.contract.js';

const day = (iso: string) => partitionOf('daily', new Date(iso));

describe('pipeline runner on DuckDB', () => {
  let wh: WarehouseFixture;
  let fx: StoreFixture;
  let warehouse: Warehouse;
  let store: PipelineStore;
  const dirs: string[] = [];
  const project = (files: Record<string, string>) => {
    const dir = writeProject(files);
    dirs.push(dir);
    return { store, warehouse, dir };
  };
  const rows = async (sql: string) => (await warehouse.query(sql, { schema: SCHEMA, timeoutMs: 10_000, maxRows: 1000 })).rows;

  before(async () => {
    wh = await duckDbFixture();
    fx = await sqliteStoreFixture();
    warehouse = wh.warehouse;
    store = fx.store;
    await warehouse.ensureSchema('web');
    await warehouse.execute(
      `create table events (id varchar, ts timestamptz, v bigint);
       insert into events values
         ('e1', '2026-01-01T10:00:00Z', 1), ('e2', '2026-01-01T23:00:00Z', 2),
         ('e3', '2026-01-02T01:00:00Z', 5), ('e4', '2026-01-03T00:00:00Z', 7)`,
      { schema: 'web', timeoutMs: 10_000 },
    );
  });
  after(async () => {
    await fx.cleanup();
    await wh.cleanup();
    dirs.forEach(removeProject);
  });

  const DAILY_TOTALS = [
    '-- materialized: incremental',
    '-- partition: daily',
    '-- partition_by: day',
    "select {{ start }} as day, count(*) as n, sum(v) as total from {{ source('events') }}",
    'where ts >= {{ start }} and ts < {{ end }}',
  ].join('\n');

  it('builds views, tables and incremental partitions in dependency order', async () => {
    const ctx = project({
      'big_events.sql': "-- materialized: view\nselect * from {{ source('web.events') }} where v > 1",
      'big_count.sql': "select count(*) as n, max(v) as top from {{ ref('big_events') }}",
      'daily_totals.sql': DAILY_TOTALS,
    });
    const run = await runToEnd(ctx, { models: ['big_events', 'big_count', 'daily_totals'], partitions: backfillPartitions(new Date('2026-01-01'), new Date('2026-01-02')), stopOnFailure: false });
    assert.equal(run.state, 'succeeded');
    assert.deepEqual(taskStates(run), { big_events: 'succeeded', big_count: 'succeeded', 'daily_totals@2026-01-01': 'succeeded', 'daily_totals@2026-01-02': 'succeeded' });
    const count = run.tasks.find((t) => t.model === 'big_count');
    assert.deepEqual(count?.upstream, [run.tasks.find((t) => t.model === 'big_events')?.id]);
    assert.deepEqual(await rows('select n, top from big_count'), [[3, 7]]);
    assert.deepEqual(await rows('select day, n, total from daily_totals order by day'), [
      ['2026-01-01T00:00:00.000Z', 2, 3],
      ['2026-01-02T00:00:00.000Z', 1, 5],
    ]);
    const attempt = (await store.listAttempts({ taskId: count!.id }))[0]!;
    assert.match((await store.attemptLog(attempt.id)) ?? '', /create table "analytics"."big_count__weir_new" as/);
  });

  it('re-running a partition replaces exactly its rows; rows outside the window are never inserted', async () => {
    const ctx = project({
      'daily_totals.sql': DAILY_TOTALS,
      // Returns every event whatever the partition: only the window's rows may land.
      'leaky.sql': "-- materialized: incremental\n-- partition: daily\n-- partition_by: at\nselect id, ts as at, v from {{ source('events') }}",
    });
    const models = ['daily_totals', 'leaky'];
    const both = backfillPartitions(new Date('2026-01-01'), new Date('2026-01-02'));
    assert.equal((await runToEnd(ctx, { models, partitions: both, stopOnFailure: false })).state, 'succeeded');
    assert.deepEqual(await rows('select id from leaky order by id'), [['e1'], ['e2'], ['e3']]);

    await warehouse.execute("insert into events values ('e5', '2026-01-01T12:00:00Z', 10)", { schema: 'web', timeoutMs: 10_000 });
    for (let i = 0; i < 2; i++) {
      const again = await runToEnd(ctx, { models, partitions: () => [day('2026-01-01')], stopOnFailure: false });
      assert.equal(again.state, 'succeeded');
    }
    assert.deepEqual(await rows('select day, n, total from daily_totals order by day'), [
      ['2026-01-01T00:00:00.000Z', 3, 13],
      ['2026-01-02T00:00:00.000Z', 1, 5],
    ]);
    assert.deepEqual(await rows('select id, count(*) from leaky group by id order by id'), [['e1', 1], ['e2', 1], ['e3', 1], ['e5', 1]]);
    await warehouse.execute("delete from events where id = 'e5'", { schema: 'web', timeoutMs: 10_000 });

    // A full rebuild replaces the table with every row up to the current partition.
    const full = await runToEnd(ctx, { models: ['leaky'], partitions: manualPartitions({ full: true, now: new Date('2026-01-05T00:00:00Z') }), stopOnFailure: false });
    assert.deepEqual(taskStates(full), { 'leaky@full': 'succeeded' });
    assert.deepEqual(await rows('select id from leaky order by id'), [['e1'], ['e2'], ['e3'], ['e4']]);
  });

  it('retries with backoff until an attempt succeeds, and records every attempt', async () => {
    const ctx = project({
      // Fails on its first two attempts, succeeds on the third.
      'flaky.sh': '# retries: 2\n# retry_delay: 1ms\nn=$(cat .flaky 2>/dev/null || echo 0)\necho $((n + 1)) > .flaky\necho "attempt $WEIR_ATTEMPT"\n[ "$n" -ge 2 ]\n',
    });
    const run = await runToEnd(ctx, { models: ['flaky'], partitions: () => [WHOLE], stopOnFailure: false });
    assert.equal(run.state, 'succeeded');
    const attempts = await store.listAttempts({ runId: run.id });
    assert.deepEqual(attempts.map((a) => [a.number, a.state, a.errorCode]), [
      [1, 'failed', 'WEIR_PIPELINE_STEP_FAILED'],
      [2, 'failed', 'WEIR_PIPELINE_STEP_FAILED'],
      [3, 'succeeded', null],
    ]);
    assert.equal(await store.attemptLog(attempts[2]!.id), 'attempt 3\n');
    assert.match(attempts[0]!.error ?? '', /exit code 1/);
  });

  it('stops a shell step and a SQL model at their timeouts', async () => {
    const ctx = project({
      'sleepy.sh': '# timeout: 200ms\necho started\nsleep 30\necho never\n',
      'slow.sql': '-- timeout: 300ms\nselect sum(a.range * b.range) as s from range(200000) a cross join range(200000) b',
    });
    const run = await runToEnd(ctx, { models: ['sleepy', 'slow'], partitions: () => [WHOLE], stopOnFailure: false });
    assert.deepEqual(taskStates(run), { sleepy: 'failed', slow: 'failed' });
    const attempts = await store.listAttempts({ runId: run.id });
    assert.deepEqual(attempts.map((a) => [a.state, a.errorCode]), [
      ['timed_out', 'WEIR_PIPELINE_TASK_TIMEOUT'],
      ['timed_out', 'WEIR_PIPELINE_TASK_TIMEOUT'],
    ]);
    const sleepy = attempts.find((a) => run.tasks.find((t) => t.id === a.taskId)?.model === 'sleepy')!;
    const log = (await store.attemptLog(sleepy.id)) ?? '';
    assert.match(log, /^started\n/);
    assert.doesNotMatch(log, /never/);
    assert.match(run.tasks[0]!.error ?? '', /stopped after \d+ ms/);
  });

  it('a failure fails only what depends on it; retrying the run runs only its failed part', async () => {
    const files = {
      'a.sql': 'select 1 as x',
      'b.sql': "select x + 1 as y from {{ ref('a') }}",
      'c.sh': 'exit 3\n',
      'd.sh': '# depends_on: [c, b]\necho d >> .ran\n',
    };
    const ctx = project(files);
    const run = await runToEnd(ctx, { models: ['a', 'b', 'c', 'd'], partitions: () => [WHOLE], stopOnFailure: false });
    assert.equal(run.state, 'failed');
    assert.deepEqual(taskStates(run), { a: 'succeeded', b: 'succeeded', c: 'failed', d: 'upstream_failed' });
    assert.equal(run.tasks.find((t) => t.model === 'c')?.error, 'shell step c  failed: exit code 3');

    writeProject({ 'c.sh': 'echo fixed\n' }, ctx.dir);
    assert.equal(await store.retryRun(run.id), 2);
    const retried = await workOn(ctx, run.id);
    assert.equal(retried.state, 'succeeded');
    const attempts = await store.listAttempts({ runId: run.id });
    const byModel = (m: string) => attempts.filter((a) => a.taskId === retried.tasks.find((t) => t.model === m)?.id).map((a) => a.state);
    assert.deepEqual(byModel('a'), ['succeeded'], 'succeeded tasks are not run again');
    assert.deepEqual(byModel('b'), ['succeeded']);
    assert.deepEqual(byModel('c'), ['failed', 'succeeded']);
    assert.deepEqual(byModel('d'), ['succeeded']);
  });

  it('a backfill that stops on failure skips the partitions not started', async () => {
    const ctx = project({
      'per_day.sh': '# partition: daily\n[ "$START" != "2026-01-03T00:00:00.000Z" ] || exit 1\necho "$START $END"\n',
    });
    const partitions = backfillPartitions(new Date('2026-01-01'), new Date('2026-01-05'));
    const run = await runToEnd(ctx, { kind: 'backfill', models: ['per_day'], partitions, stopOnFailure: true }, { concurrency: 1 });
    assert.deepEqual(taskStates(run), {
      'per_day@2026-01-01': 'succeeded',
      'per_day@2026-01-02': 'succeeded',
      'per_day@2026-01-03': 'failed',
      'per_day@2026-01-04': 'skipped',
      'per_day@2026-01-05': 'skipped',
    });
    const first = (await store.listAttempts({ taskId: run.tasks[0]!.id }))[0]!;
    assert.equal(await store.attemptLog(first.id), '2026-01-01T00:00:00.000Z 2026-01-02T00:00:00.000Z\n');

    const goesOn = await runToEnd(ctx, { kind: 'backfill', models: ['per_day'], partitions, stopOnFailure: false }, { concurrency: 1 });
    assert.deepEqual(Object.values(taskStates(goesOn)), ['succeeded', 'succeeded', 'failed', 'succeeded', 'succeeded']);
  });

  it('checks: passing, warn failures let dependents run, error failures stop them; results are kept', async () => {
    const ctx = project({
      'checked.sql': [
        '-- checks:',
        '--   - not_null: [id]',
        '--   - unique: id',
        '--   - accepted_values: {column: kind, values: [a, b]}',
        '--   - row_count: {min: 1, max: 3}',
        '--   - freshness: {column: at, max_age: 1d}',
        '--   - sql: "select * from {{ this }} where v < 0"',
        "select 'x1' as id, 'a' as kind, v, ts as at from {{ source('events') }} where id = 'e1'",
        "union all select 'x2', 'b', -1, timestamptz '2026-01-01T11:00:00Z'",
      ].join('\n'),
      'warned.sql': [
        '-- checks:',
        '--   - row_count: {max: 0}',
        '--     severity: warn',
        "select * from {{ ref('checked') }}",
      ].join('\n'),
      'after_warned.sql': "select count(*) as n from {{ ref('warned') }}",
      'failing.sql': [
        '-- checks:',
        '--   - not_null: [v]',
        '--   - unique: [k]',
        '--   - accepted_values: {column: k, values: [1]}',
        '--   - freshness: {column: at, max_age: 1h}',
        "select k, case when k = 2 then null else k end as v, timestamptz '2026-01-01T00:00:00Z' as at from (values (1), (2), (2)) as t(k)",
      ].join('\n'),
      'after_failing.sql': "select * from {{ ref('failing') }}",
    });
    // Freshness is measured against now for unpartitioned models: `checked` holds 2026 times.
    const run = await runToEnd(ctx, { models: ['checked', 'warned', 'after_warned', 'failing', 'after_failing'], partitions: () => [WHOLE], stopOnFailure: false });
    assert.deepEqual(taskStates(run), { checked: 'check_failed', failing: 'check_failed', warned: 'upstream_failed', after_warned: 'upstream_failed', after_failing: 'upstream_failed' });
    const results = await store.listCheckResults({ runId: run.id });
    const summary = (model: string) => Object.fromEntries(results.filter((r) => r.model === model).map((r) => [r.check, [r.status, r.failing]]));
    assert.deepEqual(summary('checked'), {
      'not_null(id)': ['pass', 0],
      'unique(id)': ['pass', 0],
      'accepted_values(kind)': ['pass', 0],
      row_count: ['pass', 2],
      'freshness(at)': ['fail', null],
      sql_1: ['fail', 1],
    });
    assert.deepEqual(summary('failing'), {
      'not_null(v)': ['fail', 2],
      'unique(k)': ['fail', 1],
      'accepted_values(k)': ['fail', 2],
      'freshness(at)': ['fail', null],
    });
    const checked = run.tasks.find((t) => t.model === 'checked')!;
    assert.equal(checked.errorCode, 'WEIR_PIPELINE_CHECK_FAILED');
    assert.match(checked.error ?? '', /2 error check\(s\) of checked {2}failed: freshness\(at\): the newest at \(2026-01-01T11:00:00.000Z\) is [\d.]+d older than .*; sql_1: the query returned 1 row\(s\)/);
    assert.equal(checked.attempts, 1, 'a failed check is not retried');

    // Without the failing checks of `checked`, the warn check fails and its dependents still run.
    writeProject({ 'checked.sql': "select 'x1' as id, 'a' as kind, 1 as v" }, ctx.dir);
    const second = await runToEnd(ctx, { models: ['checked', 'warned', 'after_warned'], partitions: () => [WHOLE], stopOnFailure: false });
    assert.deepEqual(taskStates(second), { checked: 'succeeded', warned: 'succeeded', after_warned: 'succeeded' });
    assert.equal(second.tasks.find((t) => t.model === 'warned')?.warnings, 1);
    assert.equal(second.state, 'succeeded');
    const history = await store.listCheckResults({ model: 'warned', check: 'row_count' });
    assert.deepEqual(history.map((h) => [h.status, h.failing, h.severity]), [['fail', 1, 'warn']]);
  });

  it('a worker that is stopped hands its running tasks back, and another finishes the run', async () => {
    const ctx = project({ 'slow_step.sh': 'echo started\nsleep 30\n' });
    const plan = load(ctx.dir);
    const { planRun } = await import('../../src/pipelines/runner/plan.js');
    const runId = await store.createRun(planRun(plan, { kind: 'manual', models: ['slow_step'], partitions: () => [WHOLE], params: {}, stopOnFailure: false }));
    const stop = new AbortController();
    const started = new Promise<void>((resolve) => {
      const check = setInterval(async () => {
        if ((await store.listAttempts({ runId })).length > 0) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    const first = workOn(ctx, runId, { signal: stop.signal });
    await started;
    stop.abort();
    const interrupted = await first;
    assert.equal(interrupted.state, 'running');
    assert.deepEqual(taskStates(interrupted), { slow_step: 'ready' });
    writeProject({ 'slow_step.sh': 'echo quick\n' }, ctx.dir);
    const finished = await workOn(ctx, runId);
    assert.equal(finished.state, 'succeeded');
    assert.deepEqual((await store.listAttempts({ runId })).map((a) => [a.number, a.state]), [
      [1, 'cancelled'],
      [2, 'succeeded'],
    ]);
  });
});
