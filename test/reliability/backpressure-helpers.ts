import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/load.js';
import { decodeLogRecord } from '../../src/events/log-record.js';
import type { EventLog } from '../../src/log/event-log.js';
import type { FileLayer } from '../../src/log/file-layer.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { RecoveringWriter } from '../../src/log/recovering-writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { buildApp } from '../../src/server/app.js';
import { parseSourceSettings } from '../../src/state/settings.js';
import type { Source, StateStore } from '../../src/state/state-store.js';
import { BacklogGate } from '../../src/collector/backlog-gate.js';
import { SourceRateLimits } from '../../src/collector/rate-limit.js';

export const quiet = { warn: (): void => undefined, error: (): void => undefined, info: (): void => undefined };

export function testSource(id: string, settings = '{}'): Source {
  return { id, workspaceId: 'ws_1', name: id, writeKey: `key-${id}`, createdAt: new Date(), settings: parseSourceSettings(settings) };
}

export interface InProcessCollector {
  app: FastifyInstance;
  writer: RecoveringWriter;
  log: EventLog;
  close(): Promise<void>;
}

/**
 * The collector's HTTP app over a real file log in `dir` (events in `dir/log`, failed events in
 * `dir/failed-log`), as `weir up` wires it, minus the metadata store: write keys are `key-<id>`
 * of the given sources.
 */
export async function startCollector(opts: {
  dir: string;
  sources: Source[];
  fileLayer?: FileLayer;
  env?: Record<string, string>;
}): Promise<InProcessCollector> {
  const config = loadConfig({ env: { WEIR_DATA_DIR: opts.dir, ...opts.env }, cwd: opts.dir });
  const log = await openFileEventLog({ dir: `${opts.dir}/log`, fileLayer: opts.fileLayer, logger: quiet, segmentBytes: config.log.segmentBytes });
  const failedLog = await openFileEventLog({ dir: `${opts.dir}/failed-log`, logger: quiet });
  const writer = await RecoveringWriter.open(log, 0, { logger: quiet, minDelayMs: 10, maxDelayMs: 200 });
  const failedWriter = await RecoveringWriter.open(failedLog, 0, { logger: quiet });
  const byKey = new Map(opts.sources.map((s) => [s.writeKey, s]));
  const app = await buildApp({
    config,
    writer,
    failedWriter,
    keys: { resolve: (k: string) => byKey.get(k) },
    backlog: new BacklogGate([log, failedLog], config.log.backlogBudgetBytes),
    rateLimits: new SourceRateLimits({ eventsPerSecond: config.limits.rateLimitEventsPerSecond, burst: config.limits.rateLimitBurst }),
    state: {} as StateStore,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger('silent'),
  });
  return {
    app,
    writer,
    log,
    async close() {
      await app.close();
      await writer.close();
      await failedWriter.close();
      await log.close();
      await failedLog.close();
    },
  };
}

/** A batch of track events with these messageIds, each carrying `padBytes` of properties. */
export function batchOf(ids: string[], padBytes = 0): string {
  const properties = padBytes > 0 ? { pad: 'x'.repeat(padBytes) } : undefined;
  return JSON.stringify({ batch: ids.map((id) => ({ type: 'track', event: 'Backpressure', userId: 'u', messageId: id, properties })) });
}

export function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** One answer of the collector, as a client sees it. */
export interface Answer {
  status: number;
  code?: string;
  retryAfter?: string;
}

/** Posts a batch through `app.inject`. */
export async function postBatch(app: FastifyInstance, writeKey: string, ids: string[], padBytes = 0): Promise<Answer> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
    payload: batchOf(ids, padBytes),
  });
  const code = res.statusCode === 200 ? undefined : (res.json() as { code: string }).code;
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, code, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined };
}

/**
 * A client that sends `batches` batches of `size` fresh messageIds and retries each refused
 * batch (after `retryMs`, standing in for Retry-After) until it is acknowledged, as Segment's
 * SDKs do. Returns the acknowledged ids and every refusal.
 */
export async function retryingClient(
  app: FastifyInstance,
  writeKey: string,
  name: string,
  batches: number,
  opts: { size?: number; retryMs?: number; between?: () => Promise<void> } = {},
): Promise<{ acked: string[]; refusals: Answer[] }> {
  const acked: string[] = [];
  const refusals: Answer[] = [];
  for (let b = 0; b < batches; b++) {
    const ids = Array.from({ length: opts.size ?? 5 }, (_, i) => `${name}-${b}-${i}`);
    for (;;) {
      const answer = await postBatch(app, writeKey, ids);
      if (answer.status === 200) break;
      refusals.push(answer);
      assert.ok(answer.status === 503 || answer.status === 429, `unexpected answer ${JSON.stringify(answer)}`);
      assert.ok(Number(answer.retryAfter) >= 1, `Retry-After on ${JSON.stringify(answer)}`);
      await new Promise((r) => setTimeout(r, opts.retryMs ?? 5));
    }
    acked.push(...ids);
    await opts.between?.();
  }
  return { acked, refusals };
}

/** Every event messageId in a file log, in log order, read by a fresh process-like instance. */
export async function messageIdsInLog(dir: string): Promise<string[]> {
  const log = await openFileEventLog({ dir, logger: quiet });
  try {
    const consumer = await log.consumer('check', { ephemeral: true });
    const ids: string[] = [];
    for (;;) {
      const records = await consumer.poll({ maxRecords: 10_000, maxWaitMs: 50 });
      for (const r of records) {
        const d = decodeLogRecord(r.value);
        if (d.kind === 'event') ids.push(String(d.event.messageId));
      }
      if (records.length === 0 && [...(await consumer.lag()).values()].every((n) => n === 0)) return ids;
    }
  } finally {
    await log.close();
  }
}

/** Asserts that every acknowledged id is in `stored` exactly once (and nothing else is twice). */
export function assertExactlyOnce(acked: string[], stored: string[]): void {
  const counts = new Map<string, number>();
  for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
  const missing = acked.filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events missing`);
  assert.deepEqual(duplicated.slice(0, 5), [], `${duplicated.length} events stored more than once`);
}
