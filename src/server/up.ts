import cluster, { type Worker } from 'node:cluster';
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import type { WeirConfig } from '../config/schema.js';
import { WeirError } from '../errors/catalogue.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { openState } from './backends.js';
import { ensureCliToken } from './cli-token.js';
import { IpcChannel } from './ipc.js';
import { EXIT_LOG_FAILED } from './collector-worker.js';
import { relayLive } from '../realtime/start-realtime.js';

export interface UpOptions {
  /** Where the start-up banner goes (stdout by default). */
  out?: (line: string) => void;
  /**
   * `weir collector`: collector workers only, serving ingest, each claiming a free log partition
   * (collectors on several hosts share the NATS log); the consumers run in `weir worker`.
   */
  collectorsOnly?: boolean;
}

/** A process the supervisor keeps running: started again when it dies, drained on shutdown. */
interface Managed {
  name: string;
  /** The `process` label of `weir_process_restarts_total`. */
  kind: 'collector' | 'sinks';
  start(): { pid: number | undefined; exited: Promise<number | null>; ready: Promise<number | undefined>; drain(): void; kill(): void };
}

/**
 * `weir up`: the all-in-one server. The supervisor forks one collector worker per core (each the
 * single writer of its own log partition, all sharing the HTTP port) and one sinks process (the
 * warehouse loader and the failed-events store, at a lower OS priority), restarts any that die,
 * relays console queries and metrics between them, and on SIGTERM/SIGINT drains them all and
 * exits 0.
 *
 * @example
 * ```ts
 * await runUp(loadConfig()); // returns once every collector listens
 * ```
 */
export async function runUp(config: WeirConfig, options: UpOptions = {}): Promise<void> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = createLogger(config.logging.level, { role: 'supervisor' });
  const aggregator = new AggregatorRegistry();
  const own = createMetrics({ role: 'supervisor' });
  // Present at 0 from the start: Prometheus's increase() misses the first restart of a new series.
  for (const kind of ['collector', 'sinks'] as const) own.processRestarts.inc({ process: kind }, 0);

  // Bootstrap before forking, so every process finds the default workspace and source.
  const state = await openState(config);
  const boot = await state.bootstrap();
  await ensureCliToken(config, state);
  await state.close();

  const env = { WEIR_WORKER_CONFIG: JSON.stringify(config) };
  let stopping = false;
  let sinks: IpcChannel | undefined;

  const toSinks = (name: string, payload: unknown, timeoutMs: number) => {
    if (!sinks) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: config.warehouse.engine, detail: 'the sinks process is restarting' });
    return sinks.request(name, payload, timeoutMs);
  };
  const relay = (collector: Worker) =>
    new IpcChannel(collector).serve({
      'weir:metrics': async () => {
        const collectors = await aggregator.clusterMetrics();
        const sinkText = sinks ? await sinks.request<string>('weir:metrics').catch(() => '') : '';
        return `${collectors}\n${sinkText}\n${await own.registry.metrics()}`;
      },
      'weir:status': async () => (sinks ? sinks.request('weir:status', undefined, 2000) : { engine: config.warehouse.engine, ok: false, lag: 0, error: 'the sinks process is starting' }),
      'weir:query': (payload) => toSinks('weir:query', payload, config.warehouse.queryTimeoutMs + 4000),
      'weir:task-start': (payload) => toSinks('weir:task-start', payload, 10_000),
      'weir:task-get': (payload) => toSinks('weir:task-get', payload, 5000),
      ...relayLive((topic, payload) => {
        if (!sinks) throw new WeirError('WEIR_LIVE_UNAVAILABLE', { detail: 'the sinks process is restarting' });
        return sinks.request(topic, payload, 2000);
      }),
    });

  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)) });
  const collectorsOnly = options.collectorsOnly === true;
  const collector = (partition: number): Managed => ({
    name: `collector ${partition}`,
    kind: 'collector',
    start() {
      const worker = cluster.fork({
        ...env,
        WEIR_WORKER_PARTITION: collectorsOnly ? 'claim' : String(partition),
        WEIR_WORKER_SURFACE: collectorsOnly ? 'ingest' : 'all',
      });
      relay(worker);
      return {
        pid: worker.process.pid,
        exited: new Promise((r) => worker.once('exit', (code) => r(code))),
        ready: new Promise((r) => worker.on('message', (m: { type?: string; port?: number }) => m?.type === 'weir:listening' && r(m.port))),
        drain: () => worker.isConnected() && worker.send({ type: 'weir:drain' }),
        kill: () => worker.process.kill('SIGKILL'),
      };
    },
  });
  const sinksProcess: Managed = {
    name: 'sinks',
    kind: 'sinks',
    start() {
      const child: ChildProcess = fork(fileURLToPath(new URL('./sinks-main.js', import.meta.url)), [], { env: { ...process.env, ...env } });
      const channel = new IpcChannel(child);
      const ready = new Promise<undefined>((r) =>
        child.on('message', (m: { type?: string }) => {
          if (m?.type !== 'weir:ready') return;
          sinks = channel;
          r(undefined);
        }),
      );
      const exited = new Promise<number | null>((r) =>
        child.once('exit', (code) => {
          if (sinks === channel) sinks = undefined;
          r(code);
        }),
      );
      return { pid: child.pid, exited, ready, drain: () => child.connected && child.send({ type: 'weir:drain' }), kill: () => child.kill('SIGKILL') };
    },
  };

  const running = new Set<{ exited: Promise<number | null>; drain(): void; kill(): void }>();
  /** Starts a process, and starts it again whenever it dies while Weir is not stopping. */
  const keep = (m: Managed, diedAt?: number) => {
    const p = m.start();
    running.add(p);
    // How long a crash kept this process's share of the work down (the reliability suite's kill loop reads it).
    if (diedAt !== undefined) void p.ready.then(() => logger.info({ process: m.name, childPid: p.pid, restartMs: Date.now() - diedAt }, 'process restarted'));
    void p.exited.then((code) => {
      running.delete(p);
      if (stopping) return;
      const at = Date.now();
      logger[code === EXIT_LOG_FAILED ? 'warn' : 'error']({ process: m.name, code }, 'process exited; restarting');
      // Not unref'd: when every child died at once this timer is all that keeps the supervisor
      // alive (found by the reliability suite's kill loop: `weir up` used to exit 0 there).
      setTimeout(() => {
        if (stopping) return;
        own.processRestarts.inc({ process: m.kind });
        keep(m, at);
      }, 500);
    });
    return p;
  };

  const workerCount = config.server.workers || availableParallelism();
  const first = [...Array.from({ length: workerCount }, (_, p) => keep(collector(p))), ...(collectorsOnly ? [] : [keep(sinksProcess)])];

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const all = [...running];
    for (const p of all) p.drain();
    const timer = setTimeout(() => {
      logger.error('processes did not drain in time; killing them');
      for (const p of all) p.kill();
    }, config.server.drainTimeoutMs + 1000);
    await Promise.all(all.map((p) => p.exited));
    clearTimeout(timer);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let port: number;
  try {
    // A process that cannot start (port taken, log locked) would fail again on every restart.
    const started = await Promise.race([
      Promise.all(first.map((p) => p.ready)),
      Promise.any(first.map((p) => p.exited.then((code) => Promise.reject(new Error(`a process exited with code ${code} during start`))))).catch(
        (e: AggregateError) => Promise.reject(e.errors[0]),
      ),
    ]);
    port = started[0] ?? config.server.port;
  } catch (err) {
    stopping = true;
    for (const p of running) p.kill();
    throw err;
  }
  const host = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
  out(
    collectorsOnly
      ? `Weir collector is running on http://${host}:${port} (${workerCount} workers, log ${config.log.backend}, metadata ${config.state.backend})`
      : `Weir is running on http://${host}:${port} (${workerCount} collector workers, warehouse ${config.warehouse.engine}, data in ${config.dataDir})`,
  );
  if (boot.created) {
    out(`First start: created workspace "${boot.workspace.name}" and source "${boot.source.name}".`);
    out(`  write key:   ${boot.source.writeKey}`);
    if (boot.adminToken) out(`  admin token: ${boot.adminToken}   (shown once; it guards /api)`);
    out(`Try: curl -u ${boot.source.writeKey}: -H 'content-type: application/json' \\`);
    out(`       -d '{"event":"Hello","userId":"me"}' http://${host}:${port}/v1/track`);
    out(`Web UI: http://${host}:${port}/ui/ — create the first user with: weir users create you@example.com --role admin`);
  } else {
    out('`weir sources list` shows the write keys.');
  }
}
