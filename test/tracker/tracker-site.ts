import { parseSourceSettings } from '../../src/state/settings.js';
import { tmpdir } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { decodeLogRecord, type DecodedRecord } from '../../src/events/log-record.js';
import type { LogWriter } from '../../src/log/event-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { buildApp } from '../../src/server/app.js';
import type { StateStore } from '../../src/state/state-store.js';

export const WRITE_KEY = 'wk_tracker_test';

export type SentEvent = Record<string, any>;

/** A request as the server saw it. */
export interface SeenRequest {
  method: string;
  host: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * A real Weir collector (the Fastify app with in-memory log writers) that also serves `/weir.js`
 * and test pages. Pages are fetched from `http://localhost:<port>` and the script from
 * `http://127.0.0.1:<port>`, so the tracker talks cross-origin as on a customer's site.
 */
export interface TrackerSite {
  /** Origin of the pages: the customer's site. */
  siteOrigin: string;
  /** Origin of weir.js and the collector. */
  weirOrigin: string;
  /** Serves `html` at `path` (its query string aside) on both origins. */
  page(path: string, html: string): void;
  requests: SeenRequest[];
  /** Events the collector accepted, normalised, in arrival order. */
  accepted: SentEvent[];
  /** Items the collector kept as failed events, with their reason. */
  failed: Array<{ reason: string; payload: SentEvent }>;
  /** `POST /v1/batch` requests received. */
  batches(): SeenRequest[];
  /** Resolves once `check` holds, re-checked after every request and record; fails after 5 s. */
  until<T>(what: string, check: () => T | undefined | false): Promise<T>;
  close(): Promise<void>;
}

const source = { id: 'src_tracker', workspaceId: 'ws_1', name: 'web', writeKey: WRITE_KEY, createdAt: new Date(), settings: parseSourceSettings('{}') };

/** A log partition that keeps nothing but hands each record, decoded, to `keep`. */
function memoryLog(keep: (record: DecodedRecord) => unknown, appended: () => void): Pick<LogWriter, 'append'> {
  let next = 0;
  return {
    append: async (records) => {
      for (const r of records) keep(decodeLogRecord(r));
      appended();
      next += records.length;
      return { partition: 0, firstOffset: next - records.length, lastOffset: next - 1 };
    },
  };
}

export async function startTrackerSite(): Promise<TrackerSite> {
  const pages = new Map<string, string>();
  const requests: SeenRequest[] = [];
  const accepted: SentEvent[] = [];
  const failed: TrackerSite['failed'] = [];
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const w of waiters) w();
  };

  const app = await buildApp({
    config: loadConfig({ env: {}, cwd: tmpdir() }),
    writer: memoryLog((d) => d.kind === 'event' && accepted.push(d.event), changed),
    failedWriter: memoryLog((d) => d.kind === 'failed' && failed.push({ reason: d.reason, payload: d.payload as SentEvent }), changed),
    keys: { resolve: (key) => (key === WRITE_KEY ? source : undefined) },
    state: {} as StateStore,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger('silent'),
  });
  app.addHook('onRequest', async (req) => {
    requests.push({ method: req.method, host: req.headers.host ?? '', path: req.url, headers: req.headers });
    changed();
  });
  app.get('/*', async (req, reply) => {
    const html = pages.get(req.url.split('?')[0] ?? '');
    if (html === undefined) return reply.code(404).send('no such page');
    return reply.header('content-type', 'text/html; charset=utf-8').send(html);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;

  return {
    siteOrigin: `http://localhost:${port}`,
    weirOrigin: `http://127.0.0.1:${port}`,
    page: (path, html) => void pages.set(path.split('?')[0] ?? path, html),
    requests,
    accepted,
    failed,
    batches: () => requests.filter((r) => r.method === 'POST' && r.path === '/v1/batch'),
    until<T>(what: string, check: () => T | undefined | false): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const attempt = () => {
          const v = check();
          if (v === undefined || v === false) return;
          waiters.delete(attempt);
          clearTimeout(timer);
          resolve(v);
        };
        const timer = setTimeout(() => {
          waiters.delete(attempt);
          reject(new Error(`the collector never saw ${what}`));
        }, 5000);
        waiters.add(attempt);
        attempt();
      });
    },
    close: () => app.close(),
  };
}
