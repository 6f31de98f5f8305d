/**
 * The benchmarks `npm run bench` knows, with their quick and full sizes, and how one is run: as a
 * child process writing its figures with `--json` (bench/report.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport, NotRun } from './report.js';

export type BenchSize = 'quick' | 'full';

export interface BenchSpec {
  /** The script's name: `dist/bench/<name>.js`, `npm run bench:<name>`. */
  name: string;
  /** What it measures, for the progress output and for "not run" reasons. */
  what: string;
  /** Environment per size; `BENCH_SIZE` is set as well, for benches that read it. */
  env: Record<BenchSize, Record<string, string>>;
}

/** Every benchmark, in the order the report lists them. */
export const BENCHES: readonly BenchSpec[] = [
  { name: 'ingest', what: 'ingest throughput (collector, all-in-one, one event per request, one core) and the nginx ratio', env: { quick: { BENCH_SECONDS: '5', BENCH_SATURATION_RUNS: '1' }, full: {} } },
  // Quick: DuckDB only; the Postgres and ClickHouse runs drop the shared "default" schema.
  { name: 'freshness', what: 'ingest-to-queryable latency and loader throughput', env: { quick: { BENCH_SECONDS: '8', BENCH_BACKLOG: '50000', BENCH_ADAPTERS: 'duckdb' }, full: {} } },
  { name: 'realtime', what: 'pings/s and ping-to-screen (SSE) latency', env: { quick: { BENCH_SECONDS: '5' }, full: {} } },
  { name: 'queries', what: 'ten analytics queries on synthetic events (quick: 10M, full: 10M and 100M)', env: { quick: { BENCH_QUERY_EVENTS: '10000000' }, full: {} } },
  { name: 'pipelines', what: 'pipeline overhead per task against GNU make', env: { quick: { BENCH_ROUNDS: '1' }, full: {} } },
  { name: 'lake', what: 'lake write throughput and a query from the lake', env: { quick: { BENCH_WRITE_EVENTS: '200000', BENCH_DAY_EVENTS: '2000000', BENCH_QUERY_RUNS: '3' }, full: {} } },
  { name: 'enrich', what: 'CPU per event of the enrichment steps', env: { quick: { BENCH_EVENTS: '50000' }, full: {} } },
  { name: 'pipeline', what: 'CPU per collector step', env: { quick: { BENCH_ITERATIONS: '5000' }, full: {} } },
  { name: 'scale', what: 'ingest through one and two weir collector processes on NATS and Postgres', env: { quick: { BENCH_SECONDS: '5' }, full: {} } },
];

/** Where the compiled benches are (beside this file in dist/bench). */
export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

/**
 * Runs one bench as a child process, its output passed through to stderr as progress, and
 * returns its report; a bench whose script is missing, or that fails, comes back as
 * {@link NotRun} with the reason (its last line of stderr), never with invented figures.
 *
 * @example
 * ```ts
 * const r = await runBench(BENCHES.find((b) => b.name === 'pipeline')!, 'quick');
 * if ('reason' in r) console.log(`not run: ${r.reason}`);
 * ```
 */
export async function runBench(spec: BenchSpec, size: BenchSize, dir: string = BENCH_DIR): Promise<BenchReport | NotRun> {
  const script = join(dir, `${spec.name}.js`);
  if (!existsSync(script)) return { name: spec.name, reason: `bench/${spec.name}.ts (${spec.what}) is not on this branch yet` };
  const scratch = mkdtempSync(join(tmpdir(), `weir-bench-${spec.name}-`));
  const json = join(scratch, 'report.json');
  try {
    const child = spawn(process.execPath, [script, '--json', json], {
      env: { ...process.env, ...spec.env[size], BENCH_SIZE: size },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastLine = '';
    const pass = (chunk: Buffer) => {
      process.stderr.write(chunk);
      const lines = chunk.toString().trim().split('\n').filter((l) => l.trim() !== '');
      if (lines.length > 0) lastLine = lines[lines.length - 1]!.trim();
    };
    child.stdout.on('data', (c: Buffer) => process.stderr.write(c));
    child.stderr.on('data', pass);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    if (code !== 0) return { name: spec.name, reason: `it exited with code ${code}${lastLine ? `: ${lastLine}` : ''}` };
    if (!existsSync(json)) return { name: spec.name, reason: 'it wrote no --json report' };
    return JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
