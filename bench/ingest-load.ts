/**
 * The load of `bench:ingest` for `bench:enrich` (which measures ingest with enrichment on and off):
 * `weir up` started as a child process, and wrk posting the same analytics.js-like batches.
 * bench/ingest.ts still has its own copy, which another branch reworks (`--json`, one event per
 * request, one core); once both are merged, it should import these.
 *
 * @example
 * ```ts
 * const weir = await startWeir({ dataDir, port: 18080, workers: 0, warehouse: 'none' });
 * const r = runWrk('http://127.0.0.1:18080', wrkScript(weir.writeKey, 0), dir, 10, 128);
 * r.requestsPerSec * EVENTS_PER_REQUEST; // events/s
 * await stopped(weir.child);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EVENTS_PER_REQUEST = 20;
export const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../src/cli/main.js');

/** Exits with code 2 and the package to install when `cmd` is missing. */
export function need(bench: string, cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    process.stderr.write(`${bench} needs ${cmd}: apt-get install ${pkg}\n`);
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

/** How requests carry events: a batch of 20 to /v1/batch, or one event to /v1/track. */
export type Shape = 'batched' | 'single';
export const eventsPerRequest = (shape: Shape) => (shape === 'batched' ? EVENTS_PER_REQUEST : 1);

/** Where a request's id goes in an event's text; the event's own suffix (`-<i>`) follows it. */
const ID = '\u0000';

/**
 * One analytics.js-like event, ~550 bytes, like a web track call: a user agent, a page url with
 * UTM parameters and a search referrer, so every enrichment step has work to do. Timestamps
 * differ per event, as they do from a real SDK, so no per-batch caching flatters us.
 */
function benchEvent(i: number, shape: Shape): string {
  return (
    `{"type":"track","event":"Product Viewed","userId":"user-4711","messageId":"${ID}-${i}",` +
    `"timestamp":"2026-11-22T10:00:${String(i).padStart(2, '0')}.${String((i * 37) % 1000).padStart(3, '0')}Z","properties":{"product_id":"sku-123456","name":"Trail shoe","price":89.9,"currency":"EUR","category":"shoes"},` +
    `"context":{"library":{"name":"bench","version":"1.0.0"},"ip":"203.0.113.${i}","userAgent":"${UAS[i % UAS.length]}",` +
    `"page":{"path":"/products/sku-123456","url":"https://shop.example.com/products/sku-123456?utm_source=google&utm_medium=cpc&utm_campaign=spring","referrer":"https://www.google.com/"},"locale":"en-GB"}` +
    // A single event carries its own sentAt (analytics.js sends one per call); a batch has one.
    `${shape === 'single' ? ',"sentAt":"2026-11-22T10:00:01.000Z"' : ''}}`
  );
}

/**
 * A Lua table of a body's fixed pieces with `false` where the request's id goes (every even
 * index, since the body is split at each id).
 */
function luaPieces(body: string): string {
  // JSON.stringify of ASCII text is a valid Lua string literal.
  return `{ ${body.split(ID).map((piece) => JSON.stringify(piece)).join(', false, ')} }`;
}

/**
 * A wrk script that posts events with unique messageIds per request, and per script.
 *
 * wrk shares the machine with the server, so its CPU is the server's loss: a body is one
 * `table.concat` of fixed pieces around the request's id (`<run>-t<thread>-<n>`, each event adding
 * `-<i>`). Building every event as its own Lua string first cost wrk about twice the CPU per
 * request (LuaJIT interns each string it makes).
 */
export function wrkScript(writeKey: string, shape: Shape, delayMs: number): string {
  // wrk's LuaJIT never seeds math.random, so every run drew the same prefix: on the NATS log,
  // whose duplicate window drops a messageId seen within minutes, a second run stored nothing.
  const run = randomBytes(4).toString('hex');
  const auth = Buffer.from(`${writeKey}:`).toString('base64');
  const events = Array.from({ length: EVENTS_PER_REQUEST }, (_, i) => benchEvent(i, shape));
  // One template per body kind: the batch, or each of the 20 single events in turn.
  const templates =
    shape === 'batched' ? [luaPieces(`{"sentAt":"2026-11-22T10:00:01.000Z","batch":[${events.join(',')}]}`)] : events.map(luaPieces);
  return `
local counter = 0
local prefix
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Basic ${auth}" }
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  prefix = "${run}-t" .. tid .. "-"
  n = 0
end
local templates = { ${templates.join(',\n  ')} }
function request()
  n = n + 1
  local id = prefix .. n
  local pieces = templates[(n % #templates) + 1]
  for k = 2, #pieces, 2 do pieces[k] = id end
  local body = table.concat(pieces)
  return wrk.format("POST", "${shape === 'batched' ? '/v1/batch' : '/v1/track'}", headers, body)
end
${
    // Exponential think times make arrivals Poisson-like; a fixed delay keeps every connection in
    // lockstep, so requests would arrive in bursts of all connections at once.
    delayMs > 0 ? `function delay() return math.floor(-${delayMs} * math.log(1 - math.random())) end` : ''
  }
`;
}

export interface WrkResult {
  requestsPerSec: number;
  meanMs: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: string;
  /** CPU seconds wrk used (user + system); only from {@link runWrkAsync}. */
  cpuSeconds?: number;
}

function parseLatency(text: string, pct: string): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** The numbers of one wrk run, from its `--latency` output. */
export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
  const mean = /Latency\s+([\d.]+)(us|ms|s)/.exec(out);
  const meanMs = mean ? Number(mean[1]) * (mean[2] === 'us' ? 0.001 : mean[2] === 's' ? 1000 : 1) : NaN;
  return { requestsPerSec: rps, meanMs, requests, p50ms: parseLatency(out, '50'), p99ms: parseLatency(out, '99'), non2xx, errors };
}

let scripts = 0;

/** The wrk command line (under `taskset` when pinned), its script written to a file of its own in `dir`. */
function wrkCommand(url: string, script: string, dir: string, seconds: number, connections: number, cpu?: number): [string, string[]] {
  // One file per run: runs started at once (bench:scale) must not share one.
  const file = join(dir, `wrk-${process.pid}-${++scripts}.lua`);
  writeFileSync(file, script);
  const wrk = ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', file, url];
  const [cmd, ...args] = cpu === undefined ? wrk : ['taskset', '-c', String(cpu), ...wrk];
  return [cmd!, args];
}

/** Runs wrk over `connections`, pinned to `cpu` when given (a one-core run keeps it off the server's core). */
export function runWrk(url: string, script: string, dir: string, seconds: number, connections: number, cpu?: number): WrkResult {
  const [cmd, args] = wrkCommand(url, script, dir, seconds, connections, cpu);
  return parseWrk(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 10 * 1024 * 1024 }));
}

/**
 * {@link runWrk} without blocking the event loop, so several wrk processes can load several
 * servers at once.
 *
 * @example
 * ```ts
 * const [a, b] = await Promise.all([runWrkAsync(urlA, script, dir, 10, 32), runWrkAsync(urlB, script, dir, 10, 32)]);
 * ```
 */
export function runWrkAsync(url: string, script: string, dir: string, seconds: number, connections: number, cpu?: number): Promise<WrkResult> {
  const [cmd, args] = wrkCommand(url, script, dir, seconds, connections, cpu);
  // The shell prints its own /proc stat after wrk: cutime + cstime are wrk's CPU, once reaped.
  const sh = `"$@"; rc=$?; echo "${STAT_MARK}"; cat /proc/$$/stat; exit $rc`;
  return new Promise((res, rej) => {
    const child = spawn('sh', ['-c', sh, 'sh', cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.once('error', rej);
    child.once('close', (code) => {
      if (code !== 0) return rej(new Error(`wrk exited with code ${code}: ${out}`));
      const [text, stat = ''] = out.split(STAT_MARK);
      // Fields after the command name: cutime is field 16, cstime 17 (in clock ticks).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      res({ ...parseWrk(text!), cpuSeconds: (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND });
    });
  });
}

const STAT_MARK = '--- /proc stat ---';
/** Clock ticks per second, the unit of CPU times in /proc. */
export const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface WeirOptions {
  /** `weir up` (default), or `weir collector`: collector workers only, serving ingest. */
  command?: 'up' | 'collector';
  dataDir: string;
  port: number;
  /** Collector workers; 0 = one per core. */
  workers: number;
  /** `none`: the collector alone (no warehouse, no lake), as the collector role runs at scale. */
  warehouse: string;
  /** Extra node flags for every process of `weir up` (e.g. `--cpu-prof`). */
  execArgv?: string[];
  /** Pins `weir up` and all its processes to this core (`taskset -c`). */
  cpu?: number;
  /** More environment, after the options above (e.g. the log and metadata backends). */
  env?: Record<string, string>;
}

/**
 * Starts `weir up` (or `weir collector`) and resolves once it printed its banner; `writeKey` is
 * the default source's, or empty when the metadata existed already (no first-start lines).
 */
export async function startWeir(o: WeirOptions): Promise<{ child: ChildProcess; writeKey: string }> {
  const command = o.command ?? 'up';
  const up = [process.execPath, ...(o.execArgv ?? []), CLI, command];
  const [cmd, ...args] = o.cpu === undefined ? up : ['taskset', '-c', String(o.cpu), ...up];
  const child = spawn(cmd!, args, {
    env: {
      ...process.env,
      WEIR_DATA_DIR: o.dataDir,
      WEIR_SERVER_PORT: String(o.port),
      WEIR_SERVER_HOST: '127.0.0.1',
      WEIR_SERVER_WORKERS: String(o.workers),
      WEIR_LOGGING_LEVEL: 'warn',
      WEIR_WAREHOUSE_ENGINE: o.warehouse,
      // The collector alone means no sink at all: the lake writer is off too.
      WEIR_LAKE_ENABLED: o.warehouse === 'none' ? 'false' : 'true',
      WEIR_SERVER_KEEP_CLIENT_IP: 'true',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const writeKey = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (/is running on/.test(out) && /admin token|sources list/.test(out)) res(/write key:\s+(\S+)/.exec(out)?.[1] ?? '');
    });
    child.once('exit', (c) => rej(new Error(`weir ${command} exited ${c}: ${out}`)));
  });
  return { child, writeKey };
}

/**
 * Sets the enrichment settings of the default source with `weir sources update` (the running
 * collectors pick them up within their 5 s source refresh). `off` turns every step off and keeps
 * the address as sent: what is left is the enricher's context copy and bot check.
 */
export function setEnrichment(dataDir: string, mode: 'on' | 'off'): void {
  const sets =
    mode === 'on'
      ? ['userAgent=true', 'referrer=true', 'campaign=true', 'pageUrl=true', 'ip=truncate']
      : ['userAgent=false', 'referrer=false', 'campaign=false', 'pageUrl=false', 'ip=keep'];
  execFileSync(process.execPath, [CLI, 'sources', 'update', 'default', ...sets.flatMap((s) => ['--set', `enrich.${s}`])], {
    env: { ...process.env, WEIR_DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export function stopped(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res(child.exitCode);
    child.once('exit', (c) => res(c));
    child.kill(signal);
  });
}
