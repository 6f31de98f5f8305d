import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openSqlitePipelineStore } from '../../src/pipelines/store/open.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import type { AttemptView, CheckResultView, RunDetail, RunView } from '../../src/pipelines/store/types.js';
import { buildApp } from '../../src/server/app.js';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import type { StateStore } from '../../src/state/state-store.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';
import { workOn, writeProject } from '../helpers/pipeline-project.js';
import { duckDbFixture } from '../helpers/warehouse-fixtures.js';
import type { WarehouseFixture } from '../contract/warehouse.contract.js';

/** A project with a step that succeeds, one that fails after it, and a model whose error check fails. */
const PROJECT = {
  'hello.sh': 'echo hello\n',
  'broken.sh': '# depends_on: [hello]\necho "about to fail" >&2\nexit 3\n',
  'after_broken.sh': '# depends_on: [broken]\necho never\n',
  'tiny.sql': '-- materialized: table\n-- checks:\n--   - row_count: {min: 5}\n--   - not_null: x\nselect 1 as x',
  'bad_header.sql': '-- materialized: tabel\nselect 1 as y',
};

describe('pipelines API', () => {
  let root: string;
  let dir: string;
  let state: StateStore;
  let store: PipelineStore;
  let wh: WarehouseFixture;
  let warehouse: Warehouse;
  let app: FastifyInstance;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });
  const get = async <T>(url: string): Promise<T> => {
    const res = await app.inject({ method: 'GET', url, headers: auth() });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json<T>();
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'weir-papi-'));
    dir = writeProject(PROJECT, join(root, 'pipelines'));
    const file = join(root, 'weir.sqlite');
    state = await openSqliteStateStore({ file });
    token = (await state.bootstrap()).adminToken!;
    store = await openSqlitePipelineStore({ file });
    wh = await duckDbFixture();
    warehouse = wh.warehouse;
    const failing = { append: () => Promise.reject(new Error('no log in this test')) };
    app = await buildApp({
      config: loadConfig({ env: { WEIR_DATA_DIR: root, WEIR_PIPELINES_DIR: dir }, cwd: root }),
      writer: failing,
      failedWriter: failing,
      keys: { resolve: () => undefined },
      state,
      pipelines: store,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger('silent'),
    });
  });
  after(async () => {
    await app.close();
    await store.close();
    await state.close();
    await wh.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it('answers 401 without a principal and with a wrong token, on reads and on writes', async () => {
    for (const [method, url] of [
      ['GET', '/api/pipelines'],
      ['GET', '/api/pipelines/runs'],
      ['GET', '/api/pipelines/runs/run_x'],
      ['GET', '/api/pipelines/checks?model=tiny'],
      ['POST', '/api/pipelines/runs'],
      ['POST', '/api/pipelines/runs/run_x/retry'],
    ] as const) {
      const none = await app.inject({ method, url });
      assert.equal(none.statusCode, 401, `${method} ${url}`);
      assert.equal(none.json().code, 'WEIR_AUTH_NO_SESSION');
      const wrong = await app.inject({ method, url, headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().code, 'WEIR_AUTH_INVALID_TOKEN');
    }
  });

  it('gives the graph with headers, dependencies and validation problems with file and line', async () => {
    const g = await get<{ models: Array<Record<string, unknown>>; order: string[]; problems: Array<{ code: string; file: string; line: number }>; canRun: boolean }>('/api/pipelines');
    assert.deepEqual(
      g.models.map((m) => m.name),
      ['bad_header', 'hello', 'broken', 'after_broken', 'tiny'],
    );
    const tiny = g.models.find((m) => m.name === 'tiny')!;
    assert.equal(tiny.materialized, 'table');
    assert.equal(tiny.partition, 'none');
    assert.deepEqual(tiny.trigger, { kind: 'manual' });
    assert.deepEqual(
      (tiny.checks as Array<{ name: string; kind: string; severity: string; line: number }>).map((c) => [c.name, c.kind, c.severity, c.line]),
      [
        ['row_count', 'row_count', 'error', 3],
        ['not_null(x)', 'not_null', 'error', 4],
      ],
    );
    assert.deepEqual(g.models.find((m) => m.name === 'after_broken')!.upstream, ['broken']);
    assert.equal(g.problems.length, 1);
    assert.deepEqual([g.problems[0]!.code, g.problems[0]!.file, g.problems[0]!.line], ['WEIR_PIPELINE_BAD_HEADER', 'bad_header.sql', 1]);
    assert.equal(g.canRun, true);
  });

  it('refuses to run while the folder has problems, then runs, lists, details and retries a run', async () => {
    const refused = await app.inject({ method: 'POST', url: '/api/pipelines/runs', headers: auth(), payload: '{}' });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'WEIR_PIPELINE_INVALID');
    rmSync(join(dir, 'bad_header.sql'));

    const badModel = await app.inject({ method: 'POST', url: '/api/pipelines/runs', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"models":["nope"]}' });
    assert.equal(badModel.statusCode, 404);
    assert.equal(badModel.json().code, 'WEIR_PIPELINE_NOT_FOUND');
    const badBody = await app.inject({ method: 'POST', url: '/api/pipelines/runs', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"models":"hello"}' });
    assert.equal(badBody.statusCode, 400);
    assert.equal(badBody.json().code, 'WEIR_API_INVALID_REQUEST');

    const created = await app.inject({ method: 'POST', url: '/api/pipelines/runs', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(created.statusCode, 201, created.body);
    const runId = created.json<{ run: RunDetail }>().run.id;
    assert.equal(created.json<{ run: RunDetail }>().run.taskCount, 4);
    assert.equal(created.json<{ run: RunDetail }>().run.params.via, 'api');

    const active = await app.inject({ method: 'POST', url: `/api/pipelines/runs/${runId}/retry`, headers: auth() });
    assert.equal(active.statusCode, 409);
    assert.equal(active.json().code, 'WEIR_PIPELINE_RUN_ACTIVE');

    await workOn({ store, warehouse, dir }, runId, { sourceSchema: 'default' });

    const detail = await get<{ run: RunDetail; attempts: AttemptView[]; checks: CheckResultView[]; now: string }>(`/api/pipelines/runs/${runId}`);
    assert.equal(detail.run.state, 'failed');
    const states = Object.fromEntries(detail.run.tasks.map((t) => [t.model, t.state]));
    assert.deepEqual(states, { hello: 'succeeded', broken: 'failed', after_broken: 'upstream_failed', tiny: 'check_failed' });
    const broken = detail.run.tasks.find((t) => t.model === 'broken')!;
    assert.deepEqual(broken.upstream, [detail.run.tasks.find((t) => t.model === 'hello')!.id]);
    assert.ok(broken.startedAt && broken.finishedAt);
    assert.ok(!Number.isNaN(Date.parse(detail.now)));
    const rowCount = detail.checks.find((c) => c.model === 'tiny' && c.check === 'row_count')!;
    assert.deepEqual([rowCount.status, rowCount.severity], ['fail', 'error']);
    assert.equal(detail.checks.find((c) => c.check === 'not_null(x)')!.status, 'pass');

    const attempt = detail.attempts.find((a) => a.taskId === broken.id)!;
    assert.equal(attempt.state, 'failed');
    const { log } = await get<{ log: string }>(`/api/pipelines/attempts/${attempt.id}/log`);
    assert.match(log, /about to fail/);
    const missingLog = await app.inject({ method: 'GET', url: '/api/pipelines/attempts/att_nope/log', headers: auth() });
    assert.equal(missingLog.statusCode, 404);

    const failedRuns = await get<{ runs: RunView[] }>('/api/pipelines/runs?state=failed&model=broken');
    assert.deepEqual(failedRuns.runs.map((r) => r.id), [runId]);
    assert.equal((await get<{ runs: RunView[] }>('/api/pipelines/runs?state=succeeded')).runs.length, 0);
    assert.equal((await get<{ runs: RunView[] }>('/api/pipelines/runs?model=nothing_like_it')).runs.length, 0);
    const badState = await app.inject({ method: 'GET', url: '/api/pipelines/runs?state=sleeping', headers: auth() });
    assert.equal(badState.statusCode, 400);
    assert.equal(badState.json().code, 'WEIR_API_INVALID_REQUEST');

    const model = await get<{ model: { name: string }; lastRuns: Array<{ runId: string; state: string }>; checks: CheckResultView[] }>('/api/pipelines/models/tiny');
    assert.deepEqual(model.lastRuns.map((r) => [r.runId, r.state]), [[runId, 'check_failed']]);
    assert.equal(model.checks.length, 2);
    const graph = await get<{ models: Array<{ name: string; last: { state: string } | null }> }>('/api/pipelines');
    assert.equal(graph.models.find((m) => m.name === 'broken')!.last?.state, 'failed');

    // Fix the step, then retry the failed part: hello is not run again.
    writeProject({ 'broken.sh': '# depends_on: [hello]\necho fixed\n', 'tiny.sql': '-- materialized: table\n-- checks:\n--   - row_count: {min: 1}\nselect 1 as x' }, dir);
    const retried = await app.inject({ method: 'POST', url: `/api/pipelines/runs/${runId}/retry`, headers: auth() });
    assert.equal(retried.statusCode, 200, retried.body);
    assert.equal(retried.json<{ reset: number }>().reset, 3);
    await workOn({ store, warehouse, dir }, runId, { sourceSchema: 'default' });
    const again = await get<{ run: RunDetail; attempts: AttemptView[] }>(`/api/pipelines/runs/${runId}`);
    assert.equal(again.run.state, 'succeeded');
    assert.equal(again.run.tasks.find((t) => t.model === 'hello')!.attempts, 1);
    assert.equal(again.attempts.filter((a) => a.taskId === broken.id).length, 2);

    const history = await get<{ checks: CheckResultView[] }>('/api/pipelines/checks?model=tiny&check=row_count');
    assert.deepEqual(history.checks.map((c) => c.status), ['pass', 'fail']);
    const notFound = await app.inject({ method: 'GET', url: '/api/pipelines/runs/run_missing', headers: auth() });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.json().code, 'WEIR_PIPELINE_RUN_NOT_FOUND');
  });
});
