import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { WeirError } from '../errors/catalogue.js';
import type { LogWriter } from '../log/event-log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Source } from '../state/state-store.js';
import type { WeirConfig } from '../config/schema.js';
import { decodeJsonBody } from './body.js';
import { processIngest, type Endpoint, type IngestLimits } from './ingest.js';
import type { MonthlyQuota } from './quota.js';
import type { BacklogGate } from './backlog-gate.js';
import type { SourceRateLimits } from './rate-limit.js';
import type { SourceEnrichers } from './source-enrichers.js';
import type { DailySalts } from '../enrich/privacy/secrets.js';
import { sendError } from '../server/http-errors.js';

export interface IngestDeps {
  config: WeirConfig;
  /** Writer of this process's partition of the event log. */
  writer: Pick<LogWriter, 'append'>;
  /** Writer of this process's partition of the failed-events log. */
  failedWriter: Pick<LogWriter, 'append'>;
  keys: { resolve(writeKey: string): Source | undefined | Promise<Source | undefined> };
  metrics: Metrics;
  /** Each source's enrichment and privacy steps; absent: events are stored as normalised. */
  enrichers?: Pick<SourceEnrichers, 'for'>;
  /** Salts for cookieless visitor ids; absent: cookieless events need an id of their own. */
  salts?: Pick<DailySalts, 'today'>;
  /** Monthly event quotas per workspace; absent means no quota is enforced. */
  quota?: Pick<MonthlyQuota, 'check' | 'record'>;
  /** Refuses ingest (503) while the log's unconsumed backlog is over its budget; absent: no budget. */
  backlog?: Pick<BacklogGate, 'check' | 'added'>;
  /** Per-write-key rate limits (429); absent: none. */
  rateLimits?: Pick<SourceRateLimits, 'check'>;
}

const SUCCESS = '{"success":true}';
const EMPTY = Buffer.alloc(0);

/**
 * Endpoints of the Segment HTTP Tracking API, with the short paths analytics.js uses.
 * https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
 */
const ROUTES: ReadonlyArray<[string, Endpoint]> = [
  ['track', 'track'],
  ['t', 'track'],
  ['page', 'page'],
  ['p', 'page'],
  ['screen', 'screen'],
  ['identify', 'identify'],
  ['i', 'identify'],
  ['group', 'group'],
  ['g', 'group'],
  ['alias', 'alias'],
  ['a', 'alias'],
  ['batch', 'batch'],
  ['import', 'batch'],
  ['b', 'batch'],
];

function writeKeyFromHeader(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 7) return undefined;
  if (header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon === -1 ? decoded : decoded.slice(0, colon);
  return key === '' ? undefined : key;
}

/** Events a request carries, as the rate limit counts them: a malformed batch counts as one. */
function eventCount(endpoint: Endpoint, body: unknown): number {
  if (endpoint !== 'batch') return 1;
  const batch = typeof body === 'object' && body !== null ? (body as { batch?: unknown }).batch : undefined;
  return Array.isArray(batch) ? Math.max(1, batch.length) : 1;
}

/**
 * Registers `POST /v1/<type>` for every Segment message type and batch, with CORS for browsers.
 * A 200 is sent only after every record of the request is durable in the event log.
 *
 * @example
 * ```ts
 * await app.register(ingestRoutes, deps);
 * // curl -u WRITE_KEY: -d '{"event":"A","userId":"u"}' -H 'content-type: application/json' localhost:8080/v1/track
 * ```
 */
export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const { config, writer, failedWriter, keys, metrics, quota, enrichers, salts, backlog, rateLimits } = deps;
  const limits: IngestLimits = config.limits;
  const keepIp = config.server.keepClientIp;

  await app.register(cors, {
    origin: config.server.corsOrigins === '*' ? '*' : config.server.corsOrigins.split(',').map((s) => s.trim()),
    methods: ['POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Authorization', 'Content-Encoding'],
    maxAge: 86400,
  });

  for (const [path, endpoint] of ROUTES) {
    const bodyLimit = endpoint === 'batch' ? config.limits.maxBatchBytes : limits.maxEventBytes;
    const requestsOk = metrics.ingestRequests.labels(endpoint, '200');
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const started = performance.now();
      const raw = req.body as Buffer | undefined;
      if (raw !== undefined) metrics.ingestBytes.inc(raw.length);
      try {
        // Before any work: a full log refuses every request the same way.
        backlog?.check();
        let source: Source | undefined;
        const headerKey = writeKeyFromHeader(req.headers.authorization);
        if (headerKey !== undefined) {
          source = await keys.resolve(headerKey);
          if (source === undefined) throw new WeirError('WEIR_AUTH_UNKNOWN_WRITE_KEY');
        }
        const body = decodeJsonBody(
          raw ?? EMPTY,
          { contentType: req.headers['content-type'], contentEncoding: req.headers['content-encoding'] },
          bodyLimit,
        );
        if (source === undefined) {
          const bodyKey = typeof body === 'object' && body !== null ? (body as { writeKey?: unknown }).writeKey : undefined;
          if (typeof bodyKey !== 'string' || bodyKey === '') throw new WeirError('WEIR_AUTH_MISSING_WRITE_KEY');
          source = await keys.resolve(bodyKey);
          if (source === undefined) throw new WeirError('WEIR_AUTH_UNKNOWN_WRITE_KEY');
        }
        rateLimits?.check(source, eventCount(endpoint, body));
        const flags = quota?.check(source.workspaceId);
        const outcome = processIngest(
          endpoint,
          body,
          source.id,
          {
            receivedAt: new Date(),
            ip: keepIp ? req.ip : undefined,
            requestIp: req.ip,
            userAgent: req.headers['user-agent'],
            visitorSalt: salts?.today(),
          },
          limits,
          flags,
          enrichers?.for(source),
        );
        if (outcome.failed.length === 0) {
          if (outcome.records.length > 0) await writer.append(outcome.records, { ids: outcome.ids });
        } else if (outcome.records.length === 0) await failedWriter.append(outcome.failed);
        else await Promise.all([writer.append(outcome.records, { ids: outcome.ids }), failedWriter.append(outcome.failed)]);
        quota?.record(source.workspaceId, outcome.accepted);
        if (backlog) {
          let bytes = 0;
          for (const r of outcome.records) bytes += r.length;
          for (const r of outcome.failed) bytes += r.length;
          backlog.added(bytes);
        }

        metrics.ingestEvents.inc({ outcome: 'accepted' }, outcome.accepted);
        requestsOk.inc();
        metrics.ackLatency.observe((performance.now() - started) / 1000);
        reply.header('content-type', 'application/json; charset=utf-8');
        if (outcome.rejected.length === 0) return reply.send(SUCCESS);
        metrics.ingestEvents.inc({ outcome: 'failed' }, outcome.rejected.length);
        for (const r of outcome.rejected) metrics.failedEvents.inc({ reason: r.code });
        return reply.send(JSON.stringify({ success: true, rejected: outcome.rejected }));
      } catch (err) {
        if (!(err instanceof WeirError)) throw err;
        metrics.ingestRequests.inc({ endpoint, status: String(err.status) });
        metrics.ingestErrors.inc({ code: err.code });
        return sendError(reply, err);
      }
    };
    app.post(`/v1/${path}`, { bodyLimit }, handler);
  }
}
