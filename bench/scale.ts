/**
 * `npm run bench:scale`: events/s acknowledged through one and through two `weir collector`
 * processes on the shared NATS JetStream log with Postgres metadata, as collectors run at scale,
 * and the ack latency of each.
 *
 * Setup: two `weir collector` processes (`WEIR_SERVER_WORKERS=1` each: one collector worker, which
 * claims the lowest free log partition), `log.backend nats` on a stream name and subject prefix of
 * this run's own, `state.backend postgres` in a schema of its own; both are deleted afterwards. No
 * consumer runs: the log holds the backlog, and `log.backlogBudgetBytes=0` so the budget never
 * refuses. The second collector starts after the first printed its banner (both bootstrap the
 * same metadata), and stays idle while the first is measured alone.
 *
 * Load: wrk as in bench:ingest (bench/ingest-load.ts), /v1/batch with 20 events per request, then
 * /v1/track with one. One collector: one wrk over BENCH_CONNECTIONS connections. Two collectors:
 * two wrk processes at once, one per collector, half the connections each. CPU of each collector
 * (supervisor and worker), of the NATS server and of the whole machine is read from /proc before
 * and after each run. Afterwards the records in the streams are counted against the events the
 * collectors acknowledged.
 *
 * Env: BENCH_SECONDS (default 10; 5 with BENCH_SIZE=quick), BENCH_CONNECTIONS (64),
 * BENCH_NATS (127.0.0.1:4222), BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test).
 * `--json <file>` writes the figures (bench/report.ts). Exits 2 when wrk, NATS or Postgres is missing.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { formatNumber, renderBlock, startBench } from './report.js';
import { deleteStreams } from '../test/helpers/nats.js';
import { TICKS_PER_SECOND, eventsPerRequest, need, runWrkAsync, startWeir, stopped, wrkScript, type Shape, type WrkResult } from './ingest-load.js';

const QUICK = process.env.BENCH_SIZE === 'quick';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 5 : 10));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const NATS = process.env.BENCH_NATS ?? '127.0.0.1:4222';
const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PORTS = [18380, 18381];
const NAMES = ['A', 'B'];

const rec = startBench('scale');
const progress = rec.progress;

/** Why a service cannot be used, or undefined when it can. */
async function unreachable(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS, timeout: 3000, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close();
    }
  } catch (err) {
    return `NATS JetStream at ${NATS} unreachable: ${(err as Error).message}`;
  }
  const client = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    return `Postgres at ${POSTGRES} unreachable: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return undefined;
}

/** Deletes this run's streams (`<base>_…`) and metadata schema; what is already gone is fine. */
async function cleanUp(base: string, schema: string): Promise<void> {
  await deleteStreams(base, NATS);
  const client = new pg.Client({ connectionString: POSTGRES });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** Records in this run's event streams (`<base>_EVENTS_P<n>`). */
async function recordsInLog(base: string): Promise<number> {
  const nc = await connect({ servers: NATS, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    let n = 0;
    for await (const info of jsm.streams.list()) if (new RegExp(`^${base}_EVENTS_P\\d+$`).test(info.config.name)) n += info.state.messages;
    return n;
  } finally {
    await nc.close();
  }
}

// --- CPU from /proc: clock ticks of a process tree, and of the whole machine -------------------

/** utime + stime of one process, in ticks (0 once it is gone). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The process and its descendants (a collector's supervisor and its cluster worker). */
function tree(pid: number): number[] {
  // pgrep -P: this kernel has no /proc/<pid>/task/<tid>/children.
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there is no child.
  }
  return [pid, ...children.flatMap(tree)];
}

/** Busy ticks of every core together (all but idle and iowait), from /proc/stat. */
function machineTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

function natsPid(): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-o', '-x', 'nats-server'], { encoding: 'utf8' }).trim()) || undefined;
  } catch {
    return undefined;
  }
}

interface CpuSample {
  at: number;
  collectors: number[];
  nats: number;
  machine: number;
}

function sampleCpu(collectors: ChildProcess[], nats: number | undefined): CpuSample {
  return {
    at: performance.now(),
    collectors: collectors.map((c) => tree(c.pid!).reduce((n, pid) => n + processTicks(pid), 0)),
    nats: nats === undefined ? NaN : processTicks(nats),
    machine: machineTicks(),
  };
}

/** Cores used between two samples: 1 = one core busy all the time. */
function coresUsed(before: CpuSample, after: CpuSample, wrkSeconds: number) {
  const seconds = (after.at - before.at) / 1000;
  const cores = (a: number, b: number) => (b - a) / TICKS_PER_SECOND / seconds;
  const collectors = after.collectors.map((t, i) => cores(before.collectors[i]!, t));
  const nats = cores(before.nats, after.nats);
  const machine = cores(before.machine, after.machine);
  const wrk = wrkSeconds / seconds;
  const known = collectors.reduce((a, b) => a + b, 0) + (Number.isNaN(nats) ? 0 : nats) + wrk;
  return { collectors, nats, wrk, machine, rest: machine - known };
}

// --- the runs -------------------------------------------------------------------------------

interface Run {
  eps: number;
  /** Collector CPU, in cores, for all collectors together. */
  collectorCores: number;
}

function recordLatency(label: string, r: WrkResult): void {
  rec.figure({ label: `${label}: ack p50`, value: r.p50ms, unit: 'ms' });
  rec.figure({ label: `${label}: ack p99`, value: r.p99ms, unit: 'ms' });
  if (r.non2xx > 0) rec.note(`${label}: ${r.non2xx} answers were not 2xx.`);
  if (r.errors) rec.note(`${label}: wrk socket errors: ${r.errors}.`);
}

/** One wrk per collector given, the connections split between them, at once. */
async function measure(label: string, shape: Shape, urls: string[], writeKey: string, dir: string, collectors: ChildProcess[], nats: number | undefined): Promise<Run> {
  const per = Math.max(1, Math.round(CONNECTIONS / urls.length));
  progress(`${label}: ${SECONDS} s, ${urls.length} wrk × ${per} connections`);
  const before = sampleCpu(collectors, nats);
  const runs = await Promise.all(urls.map((u) => runWrkAsync(u, wrkScript(writeKey, shape, 0), dir, SECONDS, per)));
  const cpu = coresUsed(before, sampleCpu(collectors, nats), runs.reduce((n, r) => n + (r.cpuSeconds ?? NaN), 0));
  const eps = runs.reduce((n, r) => n + r.requestsPerSec * eventsPerRequest(shape), 0);
  rec.figure({ label: `${label}: events/s`, value: eps, unit: 'events/s' });
  runs.forEach((r, i) => recordLatency(urls.length === 1 ? label : `${label}, collector ${NAMES[i]}`, r));
  const collectorCores = cpu.collectors.reduce((a, b) => a + b, 0);
  rec.figure({ label: `${label}: events/s per collector core (collector CPU only)`, value: eps / collectorCores, unit: 'events/s' });
  const pct = (c: number) => (Number.isNaN(c) ? 'not read' : `${Math.round(c * 100)} %`);
  const split =
    `${cpu.collectors.map((c, i) => `collector ${NAMES[i]} ${pct(c)}`).join(', ')}, NATS ${pct(cpu.nats)}, wrk ${pct(cpu.wrk)}, ` +
    `the rest (Postgres, other work on the host) ${pct(cpu.rest)}; machine ${pct(cpu.machine)} of ${cpus().length * 100} %`;
  rec.note(`${label}: CPU in % of one core: ${split}.`);
  progress(
    `  ${formatNumber(eps)} events/s; ${runs.map((r, i) => `${urls.length === 1 ? '' : `${NAMES[i]}: `}p50 ${r.p50ms} ms, p99 ${r.p99ms} ms`).join('; ')}; CPU: ${split}`,
  );
  return { eps, collectorCores };
}

async function main(): Promise<void> {
  need('bench:scale', 'wrk', 'wrk');
  const why = await unreachable();
  if (why) {
    process.stderr.write(`bench:scale needs NATS JetStream and Postgres: ${why}\n`);
    process.exit(2);
  }
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const base = `BENCH_SCALE_${id}`.toUpperCase();
  const schema = `bench_scale_${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-scale-'));
  const env = {
    WEIR_LOG_BACKEND: 'nats',
    WEIR_LOG_NATS_SERVERS: NATS,
    WEIR_LOG_NATS_STREAM: base,
    WEIR_LOG_NATS_SUBJECT_PREFIX: base.toLowerCase(),
    WEIR_LOG_BACKLOG_BUDGET_BYTES: '0',
    WEIR_STATE_BACKEND: 'postgres',
    WEIR_STATE_POSTGRES_URL: POSTGRES,
    WEIR_STATE_POSTGRES_SCHEMA: schema,
  };
  const nats = natsPid();
  rec.note(
    `Two \`weir collector\` processes, 1 collector worker each (\`WEIR_SERVER_WORKERS=1\`), log on NATS JetStream (R1, file storage, one local server), ` +
      `metadata in Postgres, no consumer running (the log holds the backlog; backlog budget off). wrk -t1 for ${SECONDS} s: /v1/batch with 20 events ` +
      `of ~550 bytes, or /v1/track with one; ${CONNECTIONS} connections to one collector, or ${Math.max(1, Math.round(CONNECTIONS / 2))} to each of two (two wrk at once). ` +
      'During the one-collector runs the second collector is up and idle.',
  );
  rec.note(
    `This machine has ${cpus().length} cores, shared by wrk, the NATS server, Postgres and the collectors (and by other work on the host, see the load average): ` +
      'two collectors cannot double throughput here: a collector worker is one Node process using up to one core, and NATS, wrk and Postgres take much of the other. ' +
      'The CPU split below says where the cores went; "events/s per collector core" is the figure that carries over to a cluster, where each collector has its own cores.',
  );
  const collectors: ChildProcess[] = [];
  try {
    let writeKey = '';
    for (const [i, port] of PORTS.entries()) {
      progress(`starting weir collector ${NAMES[i]} on port ${port}`);
      // With the log on NATS and metadata in Postgres nothing else creates the data directory,
      // where the collector writes its CLI token.
      const dataDir = join(dir, `data-${i}`);
      mkdirSync(dataDir);
      const c = await startWeir({ command: 'collector', dataDir, port, workers: 1, warehouse: 'none', env });
      collectors.push(c.child);
      writeKey ||= c.writeKey;
    }
    if (!writeKey) throw new Error('the first collector printed no write key');
    const urls = PORTS.map((p) => `http://127.0.0.1:${p}`);
    progress('warm-up: 3 s on both collectors');
    await Promise.all(urls.map((u) => runWrkAsync(u, wrkScript(writeKey, 'batched', 0), dir, 3, Math.max(1, Math.round(CONNECTIONS / 2)))));

    for (const shape of ['batched', 'single'] as const) {
      const name = shape === 'batched' ? 'batched' : 'one event per request';
      const one = await measure(`${name}, 1 collector`, shape, urls.slice(0, 1), writeKey, dir, collectors, nats);
      const two = await measure(`${name}, 2 collectors`, shape, urls, writeKey, dir, collectors, nats);
      rec.figure({ label: `${name}: events/s of 2 collectors ÷ 1`, value: two.eps / one.eps, unit: '×' });
    }

    // Every acknowledgement means a record in JetStream: count both sides.
    await new Promise((r) => setTimeout(r, 1000));
    let accepted = 0;
    for (const u of urls) {
      const text = await (await fetch(`${u}/metrics`)).text();
      accepted += Number(/weir_ingest_events_total\{outcome="accepted"\} (\d+)/.exec(text)?.[1] ?? NaN);
    }
    const inLog = await recordsInLog(base);
    rec.figure({ label: 'records in the streams − events acknowledged (all runs above)', value: inLog - accepted, unit: 'events', target: '= 0', met: inLog === accepted });
    rec.note(`Events acknowledged by the two collectors (warm-up included): ${accepted}; records in the NATS streams: ${inLog}.`);
  } finally {
    for (const c of collectors.reverse()) await stopped(c);
    await cleanUp(base, schema).catch((err) => progress(`clean-up failed (streams ${base}_*, schema ${schema}): ${(err as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${renderBlock(rec.finish())}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
