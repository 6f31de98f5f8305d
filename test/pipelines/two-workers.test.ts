import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { planRun } from '../../src/pipelines/runner/plan.js';
import { WHOLE } from '../../src/pipelines/partitions.js';
import { load, removeProject, writeProject } from '../helpers/pipeline-project.js';
import { postgresStoreFixture, requireOrSkip, uniqueTag } from '../helpers/pipeline-fixtures.js';
import { POSTGRES_URL } from '../helpers/warehouse-fixtures.js';
import { layeredDag } from '../helpers/layered-dag.js';

const WORKER = fileURLToPath(new URL('../helpers/pipeline-worker-process.js', import.meta.url));
const MODELS = 400;
const LAYERS = 16;

/**
 * A layered DAG of SQL models: each model after the first layer reads one to three models of
 * earlier layers. Every model calls `weir_probe`, which logs one row per execution into a table
 * without a unique key: a task that ran twice would show twice.
 */
function dag(): { files: Record<string, string>; edges: Array<[string, string]> } {
  const files: Record<string, string> = {};
  const edges: Array<[string, string]> = [];
  for (const [i, ups] of layeredDag(MODELS, LAYERS, 42).entries()) {
    const reads = [...ups].map((u) => `(select count(*) from {{ ref('m${u}') }})`);
    files[`m${i}.sql`] = `select weir_probe('m${i}') as probe, ${reads.length > 0 ? reads.join(' + ') : '0'} as upstream_rows`;
    for (const u of ups) edges.push([`m${u}`, `m${i}`]);
  }
  return { files, edges };
}

function startWorker(env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<string>; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let ready: (id: string) => void = () => {};
  const readyP = new Promise<string>((resolve) => (ready = resolve));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /^ready (\S+)$/m.exec(out);
    if (m?.[1]) ready(m[1]);
  });
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => ready(''));
  return { child, ready: readyP, exited, output: () => out };
}

test(`two worker processes on Postgres run every task of a ${MODELS}-model DAG exactly once, in dependency order`, async (ctx) => {
  const fx = await postgresStoreFixture();
  if (!requireOrSkip('postgres', fx, (r) => ctx.skip(r))) return;
  const database = uniqueTag('weir_workers_');
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create database ${database}`);
  const warehouseUrl = POSTGRES_URL.replace(/\/test$/, `/${database}`);
  const wh = new pg.Client({ connectionString: warehouseUrl });
  await wh.connect();
  const { files, edges } = dag();
  const dir = writeProject(files);
  const workers: Array<ReturnType<typeof startWorker>> = [];
  try {
    await wh.query(`
      create sequence probe_seq;
      create table probe_log (model text not null, seq bigint not null default nextval('probe_seq'));
      create function weir_probe(m text) returns int language sql volatile as $$ insert into public.probe_log (model) values (m) returning 1 $$;
    `);
    const env = { META_URL: POSTGRES_URL, META_SCHEMA: (fx.location as { schema: string }).schema, WAREHOUSE_URL: warehouseUrl, DIR: dir, CONCURRENCY: '4' };
    workers.push(startWorker(env), startWorker(env));
    const ids = await Promise.all(workers.map((w) => w.ready));
    assert.ok(ids.every(Boolean), workers.map((w) => w.output()).join('\n'));

    const project = load(dir);
    const runId = await fx.store.createRun(planRun(project, { kind: 'manual', models: project.order, partitions: () => [WHOLE], params: {}, stopOnFailure: false }));
    for (let i = 0; (await fx.store.runState(runId)) === 'running'; i++) {
      if (workers.some((w) => w.child.exitCode !== null)) assert.fail(`a worker exited: ${workers.map((w) => w.output()).join('\n')}`);
      if (i > 6000) assert.fail('the run did not finish in 5 minutes');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const w of workers) w.child.stdin!.end();
    assert.deepEqual(await Promise.all(workers.map((w) => w.exited)), [0, 0], workers.map((w) => w.output()).join('\n'));

    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded');
    assert.deepEqual(run?.counts, { succeeded: MODELS });
    const probes = await wh.query<{ model: string; n: string; seq: string }>('select model, count(*) as n, min(seq) as seq from probe_log group by model');
    assert.equal(probes.rows.length, MODELS, 'every model ran');
    const twice = probes.rows.filter((r) => r.n !== '1');
    // On failure, the attempts of the tasks that ran twice and the workers' logs say why.
    const why = async () => {
      const ids = new Set(run!.tasks.filter((t) => twice.some((x) => x.model === t.model)).map((t) => t.id));
      const attempts = (await fx.store.listAttempts({ runId })).filter((a) => ids.has(a.taskId));
      return `${JSON.stringify(attempts)}\n${workers.map((w) => w.output()).join('\n')}`;
    };
    assert.deepEqual(twice, [], twice.length > 0 ? `no model ran twice: ${await why()}` : undefined);
    const seq = new Map(probes.rows.map((r) => [r.model, Number(r.seq)]));
    for (const [up, down] of edges) assert.ok(seq.get(up)! < seq.get(down)!, `${up} ran before ${down}`);

    const attempts = await fx.store.listAttempts({ runId });
    assert.equal(attempts.length, MODELS, 'one attempt per task');
    assert.ok(attempts.every((a) => a.state === 'succeeded'));
    const perWorker = new Map<string, number>();
    for (const a of attempts) perWorker.set(a.worker, (perWorker.get(a.worker) ?? 0) + 1);
    assert.deepEqual([...perWorker.keys()].sort(), [...ids].sort(), 'both workers took part');
    ctx.diagnostic(`tasks per worker: ${[...perWorker.values()].join(', ')}`);
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await wh.end();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
    removeProject(dir);
    await fx.cleanup();
  }
});
