/**
 * `npm run bench:nats-log`: append throughput and acknowledgement latency of the NATS JetStream
 * event log (the file log alongside, for comparison), as the collector uses it: records of
 * ~500 bytes with ids (`Nats-Msg-Id`), appended by concurrent requests, each append resolving
 * once every record is acknowledged (NATS) or fsync'd (file).
 *
 * Scenarios: single events with BENCH_CONCURRENCY (64) appends in flight (one per HTTP request to
 * /v1/track), and batches of 100 events with 8 in flight (/v1/batch). Each runs BENCH_EVENTS
 * (50000) events. Latency is per append. Needs NATS on BENCH_NATS (127.0.0.1:4222); its streams
 * are deleted afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { encodeAcceptedRecord } from '../src/events/log-record.js';
import type { EventLog } from '../src/log/event-log.js';
import { openFileEventLog } from '../src/log/file/index.js';
import { openNatsEventLog } from '../src/log/nats/index.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const NATS = process.env.BENCH_NATS ?? '127.0.0.1:4222';

function record(i: number): Buffer {
  const ts = new Date().toISOString();
  const event = {
    type: 'track',
    event: 'Article Read',
    messageId: `bench-${i}-${Math.random().toString(36).slice(2)}`,
    anonymousId: `anon-${i % 50_000}`,
    userId: `user-${i % 20_000}`,
    properties: { title: 'How we scaled our event pipeline', section: 'engineering', words: 1840, position: i % 7 },
    context: { page: { path: '/blog/scaling', referrer: 'https://news.ycombinator.com/' }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', locale: 'en-GB' },
    timestamp: ts,
    receivedAt: ts,
  };
  return encodeAcceptedRecord('src_bench', event, JSON.stringify(event));
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(log: EventLog, batch: number, inFlight: number): Promise<{ eps: number; p50: number; p99: number }> {
  const writer = await log.openWriter(0);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < EVENTS) {
      const first = next;
      next += batch;
      const records = Array.from({ length: batch }, (_, j) => record(first + j));
      const ids = records.map((_, j) => `src_bench/${first + j}`);
      const t0 = performance.now();
      await writer.append(records, { ids });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  await writer.close();
  latencies.sort((a, b) => a - b);
  return { eps: Math.round(EVENTS / seconds), p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

async function main(): Promise<void> {
  const stream = `BENCH_${Date.now().toString(36).toUpperCase()}`;
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-log-'));
  const scenarios: Array<[string, number, number]> = [
    ['single events', 1, CONCURRENCY],
    ['batches of 100', 100, 8],
  ];
  const rows: string[] = [];
  try {
    for (const [name, batch, inFlight] of scenarios) {
      const nats = await openNatsEventLog({ servers: [NATS], stream: `${stream}_${batch}`, subjectPrefix: `${stream.toLowerCase()}.b${batch}` });
      const n = await run(nats, batch, inFlight);
      await nats.close();
      const file = await openFileEventLog({ dir: join(dir, String(batch)) });
      const f = await run(file, batch, inFlight);
      await file.close();
      rows.push(`| ${name}, ${inFlight} in flight | NATS (R1, file storage) | ${n.eps} | ${n.p50.toFixed(1)} | ${n.p99.toFixed(1)} |`);
      rows.push(`| ${name}, ${inFlight} in flight | file log (fdatasync) | ${f.eps} | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const nc = await connect({ servers: NATS });
    const jsm = await jetstreamManager(nc);
    const doomed: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(`${stream}_`)) doomed.push(name);
    for (const name of doomed) await jsm.streams.delete(name);
    await nc.close();
  }
  console.log(`${EVENTS} events per scenario, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| scenario | log | events/s | append p50 ms | append p99 ms |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
