import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { AckedLoad } from '../helpers/acked-load.js';
import { openSse } from '../helpers/sse.js';
import { deleteStreams, NATS_URL, natsUnreachable, uniqueStream } from '../helpers/nats.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';
import { PrivateClickHouse } from '../helpers/private-clickhouse.js';
import { redisUnreachable, REDIS_URL } from '../helpers/redis.js';
import { dropPostgresSchema, POSTGRES_URL, postgresUnreachable } from '../helpers/warehouse-fixtures.js';
import { CLI, eventually, freePort, removeDir, tempDir, WeirServer } from '../helpers/weir-process.js';

/** `weir worker` or `weir ui`, started from the CLI like any role, in a process group of its own. */
class RoleProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly output: { text: string },
  ) {}

  static async start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<RoleProcess> {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { text: '' };
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => (output.text += d.toString()));
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`weir ${args[0]} exited with ${child.exitCode}:\n${output.text}`);
      return ready.test(output.text);
    }, 60_000);
    return new RoleProcess(child, output);
  }

  async crash(): Promise<void> {
    const exited = new Promise<void>((r) => (this.child.exitCode !== null || this.child.signalCode !== null ? r() : this.child.once('exit', () => r())));
    process.kill(-this.child.pid!, 'SIGKILL');
    await exited;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    return exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 7's end-to-end test: the scale-out deployment on this machine. Two `weir collector`
 * processes and one `weir worker` over NATS JetStream (log), Postgres (metadata), ClickHouse
 * (warehouse) and Redis (live state), plus `weir ui` answering console queries. Events go through
 * both collectors while one collector and the worker are killed (-9) and started again; clients
 * resend what got no 200, as Segment's SDKs do. Afterwards every acknowledged messageId is in
 * ClickHouse exactly once.
 */
test('scale-out: two collectors, a worker and the UI over NATS, Postgres, ClickHouse and Redis survive kills with every acked event loaded once', async (t: TestContext) => {
  const skip = (await natsUnreachable()) ?? (await postgresUnreachable()) ?? (await redisUnreachable());
  if (!requireOrSkip('NATS, PostgreSQL and Redis', skip === undefined ? {} : { skip }, (r) => t.skip(r))) return;
  const dir = tempDir('weir-scale-');
  const clickhouse = PrivateClickHouse.create(join(dir, 'clickhouse'), 18153);
  if (!requireOrSkip('clickhouse-server', clickhouse ?? { skip: 'clickhouse-server is not installed (scripts/start-clickhouse.sh installs it)' }, (r) => t.skip(r))) return;

  const stream = uniqueStream('SCALE');
  const schema = stream.toLowerCase();
  const [portA, portB, workerPort, uiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = (name: string, port: number): NodeJS.ProcessEnv => {
    // No process may need its data directory made for it: with NATS and Postgres it holds
    // almost nothing.
    return {
      WEIR_DATA_DIR: join(dir, name),
      WEIR_SERVER_HOST: '127.0.0.1',
      WEIR_SERVER_PORT: String(port),
      WEIR_SERVER_WORKERS: '1',
      WEIR_LOGGING_LEVEL: 'warn',
      WEIR_LOG_BACKEND: 'nats',
      WEIR_LOG_NATS_SERVERS: NATS_URL,
      WEIR_LOG_NATS_STREAM: stream,
      WEIR_LOG_NATS_SUBJECT_PREFIX: schema,
      // A killed collector's partition is free again after this; its restart claims another.
      WEIR_LOG_NATS_WRITER_LEASE_MS: '3000',
      WEIR_STATE_BACKEND: 'postgres',
      WEIR_STATE_POSTGRES_URL: POSTGRES_URL,
      WEIR_STATE_POSTGRES_SCHEMA: schema,
      WEIR_WAREHOUSE_ENGINE: 'clickhouse',
      WEIR_WAREHOUSE_URL: clickhouse!.url,
      WEIR_WAREHOUSE_BATCH_MAX_WAIT_MS: '200',
      WEIR_REALTIME_STORE: 'redis',
      WEIR_REALTIME_REDIS_URL: REDIS_URL,
      WEIR_REALTIME_REDIS_KEY_PREFIX: `${schema}:`,
      WEIR_LAKE_ENABLED: 'false',
    };
  };
  const processes: Array<{ crash(): Promise<void> }> = [];
  try {
    await clickhouse!.start();
    const collectorA = await WeirServer.start({ dataDir: join(dir, 'a'), command: 'collector', env: env('a', portA), port: portA, workers: 1 });
    processes.push(collectorA);
    const writeKey = collectorA.writeKey;
    const adminToken = collectorA.adminToken!;
    const collectorB = await WeirServer.start({ dataDir: join(dir, 'b'), command: 'collector', env: env('b', portB), port: portB, workers: 1 });
    processes.push(collectorB);
    const startWorker = () => RoleProcess.start(['worker'], env('worker', workerPort), /Weir worker is running/);
    let worker = await startWorker();
    processes.push(worker);
    const ui = await RoleProcess.start(['ui'], env('ui', uiPort), /Weir UI is running/);
    processes.push(ui);

    const loads = [
      new AckedLoad({ url: `http://127.0.0.1:${portA}`, writeKey, senders: 4, batchSize: 10, prefix: 'sa', rate: 1500, retries: 50 }),
      new AckedLoad({ url: `http://127.0.0.1:${portB}`, writeKey, senders: 4, batchSize: 10, prefix: 'sb', rate: 1500, retries: 50 }),
    ];
    for (const l of loads) l.start();
    await sleep(2000);

    // Collector A dies with requests in flight; its clients resend until it is back.
    await collectorA.crash();
    await sleep(500);
    const collectorA2 = await WeirServer.start({ dataDir: join(dir, 'a'), command: 'collector', env: env('a', portA), port: portA, workers: 1 });
    processes.push(collectorA2);
    await sleep(1500);

    // The worker dies in the middle of its batches; the log keeps everything until it is back.
    await worker.crash();
    await sleep(1500);
    worker = await startWorker();
    processes.push(worker);
    await sleep(2000);
    for (const l of loads) await l.stop();

    const acked = new Set<string>();
    for (const l of loads) for (const id of l.acked) acked.add(id);
    t.diagnostic(`acknowledged ${acked.size} events (${loads.map((l) => l.acked.size).join(' + ')})`);
    assert.ok(loads.every((l) => l.acked.size > 500), 'both collectors acknowledged events');

    // Caught up: the worker is ready and nothing is left in the log for the warehouse.
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${workerPort}/readyz`);
        const body = (await res.json()) as { checks: { warehouse?: { ok: boolean; lag: number } } };
        return res.status === 200 && body.checks.warehouse?.lag === 0;
      },
      90_000,
      250,
    );
    const [rows, distinct] = (await clickhouse!.sql('SELECT count(), uniqExact(id) FROM `default`.tracks FINAL')).trim().split('\t').map(Number);
    const stored = new Set((await clickhouse!.sql('SELECT id FROM `default`.tracks')).trim().split('\n'));
    const missing = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events missing`);
    assert.equal(distinct, rows, 'no messageId twice');
    assert.ok(rows! >= acked.size);

    // `weir ui` answers console queries from the same warehouse, and serves the UI.
    const query = await fetch(`http://127.0.0.1:${uiPort}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'select count(distinct id) as n from tracks', source: 'default' }),
    });
    assert.equal(query.status, 200, await query.clone().text());
    const answer = (await query.json()) as { rows: unknown[][] };
    assert.equal(Number(answer.rows[0]?.[0]), distinct);
    assert.equal((await fetch(`http://127.0.0.1:${uiPort}/ui/`)).status, 200);
    // …and no ingest: that is the collectors' job.
    assert.equal((await fetch(`http://127.0.0.1:${uiPort}/v1/track`, { method: 'POST' })).status, 404);

    // Live numbers come from Redis, filled by the worker's aggregator: the UI process sees every
    // event of the last minutes, whichever collector took it.
    const live = await openSse(`http://127.0.0.1:${uiPort}/api/live?source=default`, { authorization: `Bearer ${adminToken}` });
    try {
      const total = (s: { minutes: Array<{ events: number }> }) => s.minutes.reduce((n, m) => n + m.events, 0);
      const snapshot = await live.next('snapshot', (s) => total(s) >= distinct!, 30_000);
      // At least once, not exactly once: the live counts are not deduplicated, and records the
      // killed worker had counted but not yet committed are counted again after its restart
      // (a few percent here), as are resends the log stored twice.
      assert.ok(total(snapshot.data) < 2 * distinct!, `live counts ${total(snapshot.data)} for ${distinct} events`);
    } finally {
      live.close();
    }

    for (const p of [collectorA2, collectorB]) assert.equal(await p.stop(), 0, 'a collector drains and exits 0');
    assert.equal(await worker.stop(), 0, 'the worker drains and exits 0');
    assert.equal(await ui.stop(), 0, 'the UI drains and exits 0');
  } finally {
    for (const p of processes) await p.crash().catch(() => {});
    await clickhouse!.kill();
    await deleteStreams(stream);
    await dropPostgresSchema(schema);
    removeDir(dir);
  }
});
