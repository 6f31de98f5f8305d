/**
 * `npm run bench:ingest`: durable ingest throughput and ack latency of `weir up`, against nginx
 * answering 204 on the same machine as the HTTP ceiling.
 *
 * Load: wrk posting /v1/batch with 20 events of about 300 bytes each, every event with a fresh
 * messageId. Phases:
 *   1. saturation: as many requests as wrk can push over 128 connections;
 *   2. half rate: the same at about half of the saturated rate (a closed loop with exponentially
 *      distributed think time per connection), for the p99 ack latency target;
 *   3. nginx: the saturation load against `return 204`, the ceiling of HTTP on this machine.
 * Afterwards every acknowledged event is counted in the log (`weir log verify`).
 *
 * Env: BENCH_SECONDS (default 15), BENCH_CONNECTIONS (128), BENCH_WORKERS (0 = one per core),
 * BENCH_WAREHOUSE (none: the collector alone; duckdb: `weir up` loading DuckDB at the same time).
 *
 * Why 128 connections: each connection has one request in flight, and an acknowledgement waits
 * for a group-commit fdatasync, so a collector is saturated only when enough requests are in
 * flight to keep its cores busy during the syncs (with 64, each worker idles about a fifth of the
 * time). A collector behind a load balancer serving many clients sees far more than 128.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 128);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);
// The collector alone by default; BENCH_WAREHOUSE=duckdb measures the all-in-one box with the
// loader sharing the same cores.
const WAREHOUSE = process.env.BENCH_WAREHOUSE ?? 'none';
const EVENTS_PER_REQUEST = 20;
const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../src/cli/main.js');

function progress(line: string): void {
  process.stderr.write(`[bench:ingest] ${line}\n`);
}

function need(cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    process.stderr.write(`bench:ingest needs ${cmd}: apt-get install ${pkg}\n`);
    process.exit(2);
  }
}

/** Real browsers' user agents, a few distinct ones as on a real site. */
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
];

/** A wrk script that posts a batch of 20 events with unique messageIds per request. */
function wrkScript(writeKey: string, delayMs: number): string {
  const auth = Buffer.from(`${writeKey}:`).toString('base64');
  // ~550 bytes per event, like a web track call from analytics.js: a user agent, a page url with
  // UTM parameters and a search referrer, so every enrichment step has work to do.
  // Timestamps differ per event, as they do from a real SDK, so no per-batch caching flatters us.
  const event = (id: string, i: number) =>
    `{"type":"track","event":"Product Viewed","userId":"user-4711","messageId":"' .. ${id} .. '",` +
    `"timestamp":"2026-11-22T10:00:${String(i).padStart(2, '0')}.${String((i * 37) % 1000).padStart(3, '0')}Z","properties":{"product_id":"sku-123456","name":"Trail shoe","price":89.9,"currency":"EUR","category":"shoes"},` +
    `"context":{"library":{"name":"bench","version":"1.0.0"},"ip":"203.0.113.${i}","userAgent":"${UAS[i % UAS.length]}",` +
    `"page":{"path":"/products/sku-123456","url":"https://shop.example.com/products/sku-123456?utm_source=google&utm_medium=cpc&utm_campaign=spring","referrer":"https://www.google.com/"},"locale":"en-GB"}}`;
  const parts: string[] = [];
  for (let i = 0; i < EVENTS_PER_REQUEST; i++) parts.push(`'${event(`prefix .. n .. "-${i}"`, i)}'`);
  return `
local counter = 0
local prefix
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Basic ${auth}" }
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  prefix = "t" .. tid .. "-" .. math.random(1, 1000000000) .. "-"
  n = 0
end
function request()
  n = n + 1
  local body = '{"sentAt":"2026-11-22T10:00:01.000Z","batch":[' .. ${parts.join(" .. ',' .. ")} .. ']}'
  return wrk.format("POST", "/v1/batch", headers, body)
end
${
    // Exponential think times make arrivals Poisson-like; a fixed delay keeps every connection in
    // lockstep, so requests would arrive in bursts of all connections at once.
    delayMs > 0 ? `function delay() return math.floor(-${delayMs} * math.log(1 - math.random())) end` : ''
  }
`;
}

interface WrkResult {
  requestsPerSec: number;
  meanMs: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: string;
}

function parseLatency(text: string, pct: string): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runWrk(url: string, script: string, dir: string, seconds: number, connections: number): WrkResult {
  const file = join(dir, `wrk-${Date.now()}.lua`);
  writeFileSync(file, script);
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', file, url], {
    encoding: 'utf8',
    maxBuffer: 10 * 1024 * 1024,
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
  const mean = /Latency\s+([\d.]+)(us|ms|s)/.exec(out);
  const meanMs = mean ? Number(mean[1]) * (mean[2] === 'us' ? 0.001 : mean[2] === 's' ? 1000 : 1) : NaN;
  return { requestsPerSec: rps, meanMs, requests, p50ms: parseLatency(out, '50'), p99ms: parseLatency(out, '99'), non2xx, errors };
}

async function startWeir(dataDir: string, port: number): Promise<{ child: ChildProcess; writeKey: string }> {
  const child = spawn(process.execPath, [CLI, 'up'], {
    env: {
      ...process.env,
      WEIR_DATA_DIR: dataDir,
      WEIR_SERVER_PORT: String(port),
      WEIR_SERVER_HOST: '127.0.0.1',
      WEIR_SERVER_WORKERS: String(WORKERS),
      WEIR_LOGGING_LEVEL: 'warn',
      WEIR_WAREHOUSE_ENGINE: WAREHOUSE,
      // The collector alone means no sink at all: the lake writer is off too.
      WEIR_LAKE_ENABLED: WAREHOUSE === 'none' ? 'false' : 'true',
      WEIR_SERVER_KEEP_CLIENT_IP: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const writeKey = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      const key = /write key:\s+(\S+)/.exec(out)?.[1];
      if (key && /admin token/.test(out)) res(key);
    });
    child.once('exit', (c) => rej(new Error(`weir up exited ${c}: ${out}`)));
  });
  return { child, writeKey };
}

function startNginx(dir: string, port: number): ChildProcess {
  mkdirSync(join(dir, 'nginx', 'logs'), { recursive: true });
  const conf = join(dir, 'nginx', 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes ${cpus().length};
pid ${join(dir, 'nginx', 'nginx.pid')};
error_log ${join(dir, 'nginx', 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'nginx')};
  server {
    listen 127.0.0.1:${port} reuseport;
    keepalive_requests 1000000;
    location / { return 204; }
  }
}
`,
  );
  return spawn('nginx', ['-c', conf, '-p', join(dir, 'nginx'), '-g', 'daemon off;'], { stdio: 'inherit' });
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

function stopped(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res(child.exitCode);
    child.once('exit', (c) => res(c));
    child.kill(signal);
  });
}

async function main(): Promise<void> {
  need('wrk', 'wrk');
  need('nginx', 'nginx-light');
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-'));
  const port = 18080;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
  progress(`machine: ${machine}`);
  try {
    progress('starting weir up');
    const weir = await startWeir(join(dir, 'data'), port);
    const url = `http://127.0.0.1:${port}`;
    progress(`warm-up 3 s`);
    runWrk(url, wrkScript(weir.writeKey, 0), dir, 3, CONNECTIONS);

    progress(`saturation: ${SECONDS} s, ${CONNECTIONS} connections`);
    const sat = runWrk(url, wrkScript(weir.writeKey, 0), dir, SECONDS, CONNECTIONS);
    progress(`  ${(sat.requestsPerSec * EVENTS_PER_REQUEST).toFixed(0)} events/s, p50 ${sat.p50ms} ms, p99 ${sat.p99ms} ms`);

    // A closed loop obeys rate = connections / (mean think time + mean latency). Latency depends
    // on the rate, so probe briefly and correct the think time until the rate is close to half.
    const targetRps = sat.requestsPerSec / 2;
    let delay = Math.round((CONNECTIONS / targetRps) * 1000);
    for (let probe = 0; probe < 3; probe++) {
      const p = runWrk(url, wrkScript(weir.writeKey, delay), dir, 3, CONNECTIONS);
      progress(`  probe: think time ${delay} ms → ${(p.requestsPerSec * EVENTS_PER_REQUEST).toFixed(0)} events/s`);
      if (Math.abs(p.requestsPerSec / targetRps - 1) < 0.05) break;
      delay = Math.max(1, Math.round((CONNECTIONS / targetRps) * 1000 - p.meanMs));
    }
    progress(`half rate: target ${(targetRps * EVENTS_PER_REQUEST).toFixed(0)} events/s (mean think time ${delay} ms per connection)`);
    const half = runWrk(url, wrkScript(weir.writeKey, delay), dir, SECONDS, CONNECTIONS);
    progress(`  ${(half.requestsPerSec * EVENTS_PER_REQUEST).toFixed(0)} events/s, p50 ${half.p50ms} ms, p99 ${half.p99ms} ms`);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const accepted = Number(/weir_ingest_events_total\{outcome="accepted"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    const exit = await stopped(weir.child);
    progress(`weir drained with exit code ${exit}; verifying the log`);
    const verify = spawnSync(process.execPath, [CLI, 'log', 'verify', '--json'], {
      env: { ...process.env, WEIR_DATA_DIR: join(dir, 'data') },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: { partitions: Array<{ records: number }> } };
    const inLog = report.events.partitions.reduce((n, p) => n + p.records, 0);

    progress('nginx ceiling');
    const nginx = startNginx(dir, port + 1);
    await waitHttp(`http://127.0.0.1:${port + 1}/`);
    const ceiling = runWrk(`http://127.0.0.1:${port + 1}`, wrkScript(weir.writeKey, 0), dir, SECONDS, CONNECTIONS);
    await stopped(nginx, 'SIGQUIT');

    const eps = sat.requestsPerSec * EVENTS_PER_REQUEST;
    const lines = [
      `### bench:ingest — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine}. wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, /v1/batch with ${EVENTS_PER_REQUEST} events of ~300 bytes, weir up with ${WORKERS || cpus().length} collector workers and warehouse.engine=${WAREHOUSE}, every 200 after fdatasync.`,
      '',
      '| run | requests/s | events/s | ack p50 | ack p99 | non-2xx |',
      '|---|---|---|---|---|---|',
      `| weir, saturation | ${sat.requestsPerSec.toFixed(0)} | ${eps.toFixed(0)} | ${sat.p50ms} ms | ${sat.p99ms} ms | ${sat.non2xx} |`,
      `| weir, half rate | ${half.requestsPerSec.toFixed(0)} | ${(half.requestsPerSec * EVENTS_PER_REQUEST).toFixed(0)} | ${half.p50ms} ms | ${half.p99ms} ms | ${half.non2xx} |`,
      `| nginx \`return 204\` (ceiling) | ${ceiling.requestsPerSec.toFixed(0)} | — | ${ceiling.p50ms} ms | ${ceiling.p99ms} ms | — |`,
      '',
      `Weir reaches ${((sat.requestsPerSec / ceiling.requestsPerSec) * 100).toFixed(0)} % of the nginx request rate. ` +
        `Accepted events counted by the server: ${accepted}; records in the log after the drain: ${inLog}; log verify: ${report.ok ? 'ok' : 'PROBLEMS'}.`,
      `Targets: ≥ 100,000 durable events/s (${eps >= 100_000 ? 'met' : 'NOT met'}); p99 ack ≤ 20 ms at half rate (${half.p99ms <= 20 ? 'met' : 'NOT met'}).`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
