/**
 * `npm run bench:pipeline`: CPU cost of each collector step for one /v1/batch request of 20
 * events (~300 bytes each), in one process, without HTTP or disk. This is the measurement behind
 * the hot-path choices in `src/collector/steps/` (no `delete`, memoised client times).
 */
import { inspectStructure } from '../src/collector/steps/inspect-structure.js';
import { validateEvent } from '../src/collector/steps/validate-event.js';
import { normaliseEvent } from '../src/collector/steps/normalise-event.js';
import { processIngest } from '../src/collector/ingest.js';
import { decodeJsonBody } from '../src/collector/body.js';
import { encodeAcceptedRecord } from '../src/events/log-record.js';
import { encodeFrames } from '../src/log/file/frame.js';
import { startBench } from './report.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 20000);
const rec = startBench('pipeline');

function batchBody(): string {
  const batch = Array.from({ length: 20 }, (_, i) => ({
    type: 'track',
    event: 'Product Viewed',
    userId: 'user-4711',
    messageId: `m-${i}-${Math.random().toString(36).slice(2)}`,
    timestamp: `2026-11-22T10:00:${String(i).padStart(2, '0')}.${String((i * 37) % 1000).padStart(3, '0')}Z`,
    properties: { product_id: 'sku-123456', name: 'Trail shoe', price: 89.9, currency: 'EUR', category: 'shoes' },
    context: { library: { name: 'bench', version: '1.0.0' }, page: { path: '/products/sku-123456', referrer: 'https://www.example.com/' }, locale: 'en-GB' },
  }));
  return JSON.stringify({ sentAt: '2026-11-22T10:00:30.000Z', batch });
}

function time(name: string, fn: () => void): void {
  for (let i = 0; i < Math.min(2000, N); i++) fn();
  const t = performance.now();
  for (let i = 0; i < N; i++) fn();
  const us = ((performance.now() - t) / N) * 1000;
  process.stdout.write(`| ${name} | ${us.toFixed(1)} µs |\n`);
  rec.figure({ label: `${name}, per request of 20 events`, value: us, unit: 'µs' });
}

const text = batchBody();
const raw = Buffer.from(text);
const body = JSON.parse(text) as { sentAt: string; batch: Array<Record<string, unknown>> };
const limits = { maxDepth: 32, maxProperties: 2000, maxEventBytes: 32768, maxBatchItems: 2500 };
const facts = { receivedAt: new Date(), sentAt: body.sentAt };
const iso = facts.receivedAt.toISOString();
const events = body.batch.map((it) => {
  const n = normaliseEvent(it, facts, iso);
  if (!n.ok) throw new Error('bench body is invalid');
  return n.event;
});
const jsons = events.map((e) => JSON.stringify(e));
const records = jsons.map((j, i) => encodeAcceptedRecord('src_bench', events[i]!, j));

process.stdout.write(`bench:pipeline — ${raw.length} byte request, 20 events, ${N} iterations, Node ${process.version}\n\n| step (per request) | cost |\n|---|---|\n`);
time('decode body (UTF-8 check + JSON.parse)', () => decodeJsonBody(raw, { contentType: 'application/json', contentEncoding: undefined }, 512000));
time('inspectStructure ×20', () => body.batch.forEach((it) => inspectStructure(it, limits)));
time('validateEvent ×20', () => body.batch.forEach((it) => validateEvent(it)));
time('normaliseEvent ×20', () => body.batch.forEach((it) => normaliseEvent(it, facts, iso)));
time('JSON.stringify ×20', () => events.forEach((e) => JSON.stringify(e)));
time('encode records ×20', () => jsons.forEach((j, i) => encodeAcceptedRecord('src_bench', events[i]!, j)));
time('log frames (copy + CRC32)', () => encodeFrames(records, 0));
time('whole pipeline (decode → records)', () => {
  processIngest('batch', decodeJsonBody(raw, { contentType: 'application/json', contentEncoding: undefined }, 512000), 'src_bench', { receivedAt: new Date() }, limits);
});
rec.note(`${raw.length} byte request, 20 events, ${N} iterations; one process, no HTTP and no disk.`);
rec.finish();
