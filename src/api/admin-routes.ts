import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import type { Source, StateStore } from '../state/state-store.js';
import { decodeJsonBody } from '../collector/body.js';
import type { BlobStore } from '../blob/blob-store.js';
import { sourcePrefix, uploadPrefix } from '../lake/lake-layout.js';
import type { SinksTask } from '../server/sinks-worker.js';
import type { TaskStatus } from '../server/task-board.js';
import { parseQueryRequest, type QueryRequest, type QueryResponse } from '../warehouse/run-query.js';
import type { ReplayFailedOptions, ReplaySummary } from '../collector/replay-failed.js';
import { USAGE_PERIODS, usageReport, type UsagePeriod } from '../usage/usage-report.js';

function jsonBody(req: FastifyRequest, limit: number): unknown {
  return decodeJsonBody((req.body as Buffer | undefined) ?? Buffer.alloc(0), {
    contentType: req.headers['content-type'],
    contentEncoding: req.headers['content-encoding'],
  }, limit);
}

export interface AdminDeps {
  state: StateStore;
  /** Long operations (lake replay, import), run where the warehouse is. */
  tasks?: { start(task: SinksTask): Promise<string>; get(id: string): Promise<TaskStatus> };
  /** The lake, for `GET /api/lake`. */
  lake?: BlobStore;
  /** Runs a console query where the warehouse lives (in `weir up`, the supervisor). */
  query?: (req: QueryRequest) => Promise<QueryResponse>;
  /** Replays failed events with this process's writer of the event log. */
  replayFailed?: (options: ReplayFailedOptions) => Promise<ReplaySummary>;
}

async function requireAdmin(state: StateStore, req: FastifyRequest): Promise<void> {
  const header = req.headers.authorization;
  if (header === undefined || !/^bearer /i.test(header)) throw new WeirError('WEIR_AUTH_MISSING_TOKEN');
  // A write key is never a token: tokens and write keys live in different tables.
  if (!(await state.verifyAdminToken(header.slice(7).trim()))) throw new WeirError('WEIR_AUTH_INVALID_TOKEN');
}

function sourceView(s: Source) {
  return { id: s.id, workspaceId: s.workspaceId, name: s.name, writeKey: s.writeKey, createdAt: s.createdAt.toISOString() };
}

function positiveInt(value: unknown, option: string, fallback: number, max = 10000): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${option} must be an integer from 1 to ${max}, got ${String(value)}` });
  }
  return n;
}

function dateParam(value: unknown, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${name} must be an ISO-8601 date, got ${String(value)}` });
  }
  return date;
}

function booleanParam(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${name} must be true or false` });
  return value;
}

async function sourceIdParam(state: StateStore, value: unknown): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const source = typeof value === 'string' ? await state.getSource(value) : undefined;
  if (!source) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: String(value) });
  return source.id;
}

/** Failed events one replay request examines unless it asks for another number. */
const REPLAY_STEP = 10_000;

/**
 * The management API, guarded by the admin token (`Authorization: Bearer <token>`).
 *
 * @example
 * ```ts
 * // curl -H "authorization: Bearer $WEIR_ADMIN_TOKEN" localhost:8080/api/sources
 * ```
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { state } = deps;
  app.addHook('onRequest', async (req) => requireAdmin(state, req));

  app.get('/api/sources', async () => ({ sources: (await state.listSources()).map(sourceView) }));

  app.post('/api/sources', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const body = jsonBody(req, 16 * 1024) as { name?: unknown; workspaceId?: unknown };
    if (typeof body.name !== 'string' || !/^[\w.-]{1,64}$/.test(body.name)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'name must be 1 to 64 letters, digits, _ . or -' });
    }
    const workspaceId = typeof body.workspaceId === 'string' ? body.workspaceId : (await state.defaultWorkspace()).id;
    const source = await state.createSource({ workspaceId, name: body.name });
    reply.code(201);
    return { source: sourceView(source) };
  });

  /**
   * Read-only SQL on a source's schema: `{"sql": "select count(*) from tracks", "source": "web"}`
   * → `{ columns, rows, truncated, schema, ms }`.
   */
  app.post('/api/query', { bodyLimit: 128 * 1024 }, async (req) => {
    const request = parseQueryRequest(jsonBody(req, 128 * 1024));
    if (!deps.query) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'this process serves no warehouse' });
    return deps.query(request);
  });

  const sourceParam = async (value: unknown) => {
    if (typeof value !== 'string' || value === '') throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'source is required' });
    const source = await state.getSource(value);
    if (!source) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: value });
    return source;
  };
  const lake = () => {
    if (!deps.lake) throw new WeirError('WEIR_LAKE_DISABLED');
    return deps.lake;
  };

  /** A source's lake objects: its event files and its uploads. `?source=web[&prefix=date=2026-11-22/]` */
  app.get('/api/lake', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const source = await sourceParam(q.source);
    const within = q.prefix ?? '';
    const objects = [];
    for (const prefix of [sourcePrefix(source.id) + within, uploadPrefix(source.id) + within]) {
      for await (const o of lake().list(prefix)) {
        objects.push({ key: o.key, size: o.size, lastModified: o.lastModified.toISOString() });
        if (objects.length >= 10_000) return { objects, truncated: true };
      }
    }
    return { objects, truncated: false };
  });

  /** Downloads one object of a source: `?source=web&key=source=src_…/date=…/hour=…/p0-….parquet`. */
  app.get('/api/lake/object', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const source = await sourceParam(q.source);
    const key = q.key ?? '';
    if (!key.startsWith(sourcePrefix(source.id)) && !key.startsWith(uploadPrefix(source.id))) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `key must be one of source ${source.name}'s objects` });
    }
    const info = await lake().stat(key);
    if (!info) throw new WeirError('WEIR_BLOB_NOT_FOUND', { key, store: lake().kind });
    reply.header('content-type', key.endsWith('.parquet') ? 'application/vnd.apache.parquet' : 'application/octet-stream');
    reply.header('content-length', info.size);
    reply.header('content-disposition', `attachment; filename="${key.split('/').pop()!.replace(/"/g, '')}"`);
    return reply.send(await lake().get(key));
  });

  /** Starts a long operation: `{"kind":"lake-replay","source":"web","since":"2026-11-01"}` or `{"kind":"import","source":"web","key":"uploads/…","table":"crm"}`. */
  app.post('/api/tasks', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const body = jsonBody(req, 16 * 1024) as Record<string, unknown>;
    if (!deps.tasks) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'this process runs no sinks' });
    const source = await sourceParam(body.source);
    let task: SinksTask;
    if (body.kind === 'lake-replay') {
      if (typeof body.since !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.since)) {
        throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `since must be a date YYYY-MM-DD, got ${JSON.stringify(body.since)}` });
      }
      task = { kind: 'lake-replay', request: { sourceId: source.id, since: body.since, until: typeof body.until === 'string' ? body.until : undefined } };
    } else if (body.kind === 'import') {
      if (typeof body.key !== 'string' || !body.key.startsWith(uploadPrefix(source.id))) {
        throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'key must be an upload of the source' });
      }
      task = { kind: 'import', request: { sourceId: source.id, key: body.key, table: String(body.table ?? '') } };
    } else {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `kind must be lake-replay or import, got ${JSON.stringify(body.kind)}` });
    }
    reply.code(202);
    return { id: await deps.tasks.start(task) };
  });

  app.get('/api/tasks/:id', async (req) => {
    if (!deps.tasks) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'this process runs no sinks' });
    return deps.tasks.get((req.params as { id: string }).id);
  });

  app.get('/api/failed-events', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const events = await state.listFailedEvents({
      sourceId: await sourceIdParam(state, q.source),
      reason: q.reason,
      since: dateParam(q.since, 'since'),
      limit: positiveInt(q.limit, 'limit', 100),
    });
    return {
      failedEvents: events.map((e) => ({
        ...e,
        receivedAt: e.receivedAt.toISOString(),
        replayedAt: e.replayedAt?.toISOString() ?? null,
        payload: safeParse(e.payload),
      })),
    };
  });

  /**
   * Validates failed events again under the current configuration and ingests those that pass
   * now: `{"source": "web", "reason": "WEIR_EVENT_BOT", "since": "…", "dryRun": false,
   * "again": false, "limit": 10000, "afterId": 0}`, every field optional (an empty body takes
   * the first 10,000 failed events not replayed before) → `{ examined, valid, stillFailing:
   * {reason: n}, nextAfterId, dryRun }`. While `nextAfterId` is not null, more may be left:
   * send it back as `afterId`. Steps keep each request well inside the request timeout.
   */
  app.post('/api/failed-events/replay', { bodyLimit: 16 * 1024 }, async (req) => {
    const raw = req.body as Buffer | undefined;
    const body = (raw === undefined || raw.length === 0 ? {} : jsonBody(req, 16 * 1024)) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'the body must be a JSON object' });
    }
    if (body.reason !== undefined && typeof body.reason !== 'string') {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'reason must be a reason code' });
    }
    if (body.afterId !== undefined && !(Number.isSafeInteger(body.afterId) && (body.afterId as number) >= 0)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `afterId must be a whole number, got ${String(body.afterId)}` });
    }
    if (!deps.replayFailed) throw new WeirError('WEIR_INGEST_UNAVAILABLE', { detail: 'this process has no event log writer' });
    return deps.replayFailed({
      sourceId: await sourceIdParam(state, body.source),
      reason: body.reason as string | undefined,
      since: dateParam(body.since, 'since'),
      dryRun: booleanParam(body.dryRun, 'dryRun'),
      again: booleanParam(body.again, 'again'),
      afterId: body.afterId as number | undefined,
      limit: positiveInt(body.limit, 'limit', REPLAY_STEP, 100_000),
    });
  });

  /**
   * Metered usage: `?source=&workspace=&since=&until=&by=hour|day|month` → `{ by, usage: [{
   * period, sourceId, source, workspaceId, accepted, failed, bytes }] }`. Hours starting in
   * [since, until) are summed per period (UTC) and source; bytes are stored record bytes.
   */
  app.get('/api/usage', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const by = (q.by ?? 'hour') as UsagePeriod;
    if (!USAGE_PERIODS.includes(by)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `by must be one of ${USAGE_PERIODS.join(', ')}, got ${q.by}` });
    }
    let workspaceId: string | undefined;
    if (q.workspace !== undefined) {
      const workspace = (await state.listWorkspaces()).find((w) => w.id === q.workspace || w.name === q.workspace);
      if (!workspace) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `no workspace ${q.workspace}` });
      workspaceId = workspace.id;
    }
    const usage = await usageReport(state, {
      sourceId: await sourceIdParam(state, q.source),
      workspaceId,
      since: dateParam(q.since, 'since'),
      until: dateParam(q.until, 'until'),
      by,
    });
    return { by, usage };
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
