import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/observability/logger.js';
import { startPipelineWorker } from '../../src/pipelines/runner/worker.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import { fireSchedules, fireWatermark } from '../../src/pipelines/triggers/triggers.js';
import { sqliteStoreFixture, type StoreFixture } from '../helpers/pipeline-fixtures.js';
import { load, removeProject, taskStates, writeProject } from '../helpers/pipeline-project.js';
import { duckDbFixture } from '../helpers/warehouse-fixtures.js';
import type { WarehouseFixture } from '../contract/warehouse.contract.js';

const at = (iso: string) => new Date(iso);

describe('pipeline triggers', () => {
  let fx: StoreFixture;
  let store: PipelineStore;
  const dirs: string[] = [];
  before(async () => {
    fx = await sqliteStoreFixture();
    store = fx.store;
  });
  after(async () => {
    await fx.cleanup();
    dirs.forEach(removeProject);
  });
  const project = (files: Record<string, string>) => {
    const dir = writeProject(files);
    dirs.push(dir);
    return load(dir);
  };
  const partitionsOf = async (runId: string | undefined) => {
    assert.ok(runId, 'a run was created');
    const run = await store.getRun(runId);
    return Object.keys(taskStates(run!));
  };

  it('a partition is due once the watermark passes its end plus the lateness, and fires once', async () => {
    const p = project({
      'hits.sh': '# partition: hourly\n# trigger: watermark\n# lateness: 10m\ntrue\n',
      'daily.sh': '# partition: daily\n# trigger: watermark\n# lateness: 1h\n# start: 2026-01-01\ntrue\n',
      'manual.sh': '# partition: daily\ntrue\n',
    });
    const fire = (watermark: Date | undefined) => fireWatermark({ store, project: p, watermark });
    assert.equal(await fire(undefined), undefined, 'no watermark, nothing due');
    // 10:09: the 09:00–10:00 hour needs the watermark at 10:10; the newest due hour is 08:00–09:00.
    // Daily starts at its `start` and has 2026-01-01 and -02 due (the 3rd ends at 01-04 00:00 + 1h).
    assert.deepEqual(await partitionsOf(await fire(at('2026-01-03T10:09:59Z'))), [
      'daily@2026-01-01',
      'daily@2026-01-02',
      'hits@2026-01-03T08',
    ]);
    assert.equal(await fire(at('2026-01-03T10:09:59Z')), undefined, 'each partition fires once');
    assert.deepEqual(await partitionsOf(await fire(at('2026-01-03T10:10:00Z'))), ['hits@2026-01-03T09'], 'at end + lateness exactly');
    // A jump of three hours fires every hour in between, oldest first.
    assert.deepEqual(await partitionsOf(await fire(at('2026-01-03T13:30:00Z'))), ['hits@2026-01-03T10', 'hits@2026-01-03T11', 'hits@2026-01-03T12']);
    // Ordered by partition start: the day (from 00:00) before the hours from 13:00.
    assert.deepEqual(await partitionsOf(await fire(at('2026-01-04T01:00:00Z'))), [
      'daily@2026-01-03',
      'hits@2026-01-03T13',
      'hits@2026-01-03T14',
      'hits@2026-01-03T15',
      'hits@2026-01-03T16',
      'hits@2026-01-03T17',
      'hits@2026-01-03T18',
      'hits@2026-01-03T19',
      'hits@2026-01-03T20',
      'hits@2026-01-03T21',
      'hits@2026-01-03T22',
      'hits@2026-01-03T23',
    ]);
    const run = (await store.listRuns({ kind: 'watermark', limit: 1 }))[0];
    assert.deepEqual(run?.params, { watermark: '2026-01-04T01:00:00.000Z' });
  });

  it('cron schedules fire their newest tick once, not before the worker started, and catch up the newest missed tick', async () => {
    const p = project({
      'hourly_report.sh': '# schedule: "15 * * * *"\n# partition: hourly\ntrue\n',
      'nightly.sh': '# schedule: "0 2 * * *"\ntrue\n',
    });
    const since = at('2026-01-02T10:20:00Z');
    const fire = (now: string) => fireSchedules({ store, project: p, now: at(now), since });
    assert.equal(await fire('2026-01-02T10:20:00Z'), undefined, "the 10:15 tick was before the worker started");
    assert.deepEqual(await partitionsOf(await fire('2026-01-02T11:15:00Z')), ['hourly_report@2026-01-02T10'], 'the tick at 11:15 covers the hour that ended');
    assert.equal(await fire('2026-01-02T11:40:00Z'), undefined, 'a tick fires once');
    // Down from 11:40 to 14:50: only the newest missed tick (14:15) fires; nightly fires at 02:00.
    assert.deepEqual(await partitionsOf(await fire('2026-01-02T14:50:00Z')), ['hourly_report@2026-01-02T13']);
    assert.deepEqual(await partitionsOf(await fire('2026-01-03T02:00:30Z')), ['nightly', 'hourly_report@2026-01-03T00']);
  });

  it("a worker given the loader's watermark runs what becomes due", async () => {
    const wh: WarehouseFixture = await duckDbFixture();
    const other = await sqliteStoreFixture();
    const dir = writeProject({ 'per_hour.sh': '# partition: hourly\n# trigger: watermark\necho "$START"\n' });
    dirs.push(dir);
    const stop = new AbortController();
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    // What the metrics hooks saw: runs triggered, attempts with their durations, tasks running.
    const triggered: string[] = [];
    const attempts: Array<[string, number]> = [];
    const running: number[] = [];
    let idle: () => void = () => {};
    const idled = new Promise<void>((resolve) => (idle = resolve));
    const worker = startPipelineWorker({
      store: other.store,
      warehouse: wh.warehouse,
      dir,
      logger: createLogger('silent'),
      signal: stop.signal,
      watermark: async () => at('2026-01-02T03:00:00Z'),
      pollMs: 20,
      onTriggered: (trigger) => triggered.push(trigger),
      onRunning: (n) => {
        running.push(n);
        if (n === 0) idle();
      },
      onAttempt: (_task, outcome, seconds) => {
        attempts.push([outcome, seconds]);
        if (outcome === 'succeeded') finished();
      },
    });
    try {
      await done;
      const [run] = await other.store.listRuns({ kind: 'watermark' });
      assert.ok(run);
      const detail = await other.store.getRun(run.id);
      assert.deepEqual(taskStates(detail!), { 'per_hour@2026-01-02T02': 'succeeded' });
      assert.deepEqual(triggered, ['watermark']);
      assert.deepEqual(attempts.map(([outcome]) => outcome), ['succeeded']);
      assert.ok(attempts.every(([, seconds]) => Number.isFinite(seconds) && seconds >= 0), `attempt durations ${JSON.stringify(attempts)}`);
      // Running at 1 while the task ran; back at 0 once it was recorded (reported after onAttempt).
      await idled;
      assert.deepEqual(running, [1, 0]);
    } finally {
      stop.abort();
      await worker.done;
      await other.cleanup();
      await wh.cleanup();
    }
  });
});
