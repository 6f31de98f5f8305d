import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import { canSee, requireRole, requireSource, visibleWorkspaces, type Role } from './auth.js';
import { trackerSnippet } from '../tracker/serve.js';
import type { Source, StateStore } from '../state/state-store.js';
import { decodeJsonBody } from '../collector/body.js';
import type { BlobStore } from '../blob/blob-store.js';
import { sourcePrefix, uploadPrefix } from '../lake/lake-layout.js';
import type { SinksTask } from '../server/sinks-worker.js';
import type { TaskStatus } from '../server/task-board.js';
import { parseQueryRequest, type QueryRequest, type QueryResponse } from '../warehouse/run-query.js';
import type { ReplayFailedOptions, ReplaySummary } from '../collector/replay-failed.js';
import { USAGE_PERIODS, usageReport, type UsagePeriod } from '../usage/usage-report.js';

/** The request's JSON body, decoded under the collector's media-type, gzip and UTF-8 rules. */

export function jsonBody(req: FastifyRequest, limit: number): unknown {
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

/** A source as the API shows it, with the tracker snippet for this host (as the caller reached it). */
function sourceView(req: FastifyRequest, s: Source) {
  return {
    id: s.id,
    workspaceId: s.workspaceId,
    name: s.name,
    writeKey: s.writeKey,
    createdAt: s.createdAt.toISOString(),
    snippet: trackerSnippet({ host: `${req.protocol}://${req.host}`, writeKey: s.writeKey }),
  };
}

export function positiveInt(value: unknown, option: string, fallback: number, max = 10000): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${option} must be an integer from 1 to ${max}, got ${String(value)}` });
  }
  return n;
}

export function dateParam(value: unknown, name: string): Date | undefined {
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

/** The id of an optional `source` parameter the caller may read (`min` role), or undefined when absent. */
async function sourceIdParam(state: StateStore, req: FastifyRequest, value: unknown, min: Role = 'viewer'): Promise<string | undefined> {
  if (value === undefined) return undefined;
  return (await requireSource(state, req, typeof value === 'string' ? value : '', min)).id;
}

/** A workspace by id or name that the caller can see; a hidden one reads as missing. */
async function visibleWorkspace(state: StateStore, req: FastifyRequest, idOrName: string) {
  const workspace = (await state.listWorkspaces()).find((w) => (w.id === idOrName || w.name === idOrName) && canSee(req, w.id));
  if (!workspace) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `no workspace ${idOrName}` });
  return workspace;
}

/** Ids of the sources a session may see, or undefined (no filter) for an admin token. */
async function visibleSourceIds(state: StateStore, req: FastifyRequest): Promise<string[] | undefined> {
  if (req.principal?.kind !== 'session') return undefined;
  return (await state.listSources()).filter((s) => canSee(req, s.workspaceId)).map((s) => s.id);
}

/**
 * Task ids carry their source, so that reading a task checks the caller's role in its workspace
 * without the sinks process having to know about callers.
 */
const TASK_ID = /^(src_[A-Za-z0-9]+)\.([0-9a-f-]+)$/;

/** Failed events one replay request examines unless it asks for another number. */
const REPLAY_STEP = 10_000;

/**
 * The management API, for an admin token (`Authorization: Bearer <token>`, everything) or a UI
 * session (what its roles allow: reading needs viewer in the workspace, changes editor).
 *
 * @example
 * ```ts
 * // curl -H "authorization: Bearer $WEIR_ADMIN_TOKEN" localhost:8080/api/sources
 * ```
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { state } = deps;
  // Every /api/ route is authenticated by the root hook `apiAuth` (src/api/auth.ts); each route
  // checks the caller's role in the workspace it touches.

  app.get('/api/workspaces', async (req) => ({ workspaces: await visibleWorkspaces(state, req.principal) }));

  /** Sources the caller can see, of one workspace with `?workspace=<id or name>`. */
  app.get('/api/sources', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const workspaceId = q.workspace === undefined ? undefined : (await visibleWorkspace(state, req, q.workspace)).id;
    const sources = (await state.listSources(workspaceId)).filter((s) => canSee(req, s.workspaceId));
    return { sources: sources.map((s) => sourceView(req, s)) };
  });

  app.post('/api/sources', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const body = jsonBody(req, 16 * 1024) as { name?: unknown; workspaceId?: unknown };
    if (typeof body.name !== 'string' || !/^[\w.-]{1,64}$/.test(body.name)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'name must be 1 to 64 letters, digits, _ . or -' });
    }
    const workspaceId = typeof body.workspaceId === 'string' ? (await visibleWorkspace(state, req, body.workspaceId)).id : (await state.defaultWorkspace()).id;
    requireRole(req, workspaceId, 'editor');
    const source = await state.createSource({ workspaceId, name: body.name });
    reply.code(201);
    return { source: sourceView(req, source) };
  });

  /**
   * Read-only SQL on a source's schema: `{"sql": "select count(*) from tracks", "source": "web"}`
   * → `{ columns, rows, truncated, schema, ms }`.
   */
  app.post('/api/query', { bodyLimit: 128 * 1024 }, async (req) => {
    const request = parseQueryRequest(jsonBody(req, 128 * 1024));
    await requireSource(state, req, request.source ?? 'default', 'viewer');
    if (!deps.query) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'this process serves no warehouse' });
    return deps.query(request);
  });

  const lake = () => {
    if (!deps.lake) throw new WeirError('WEIR_LAKE_DISABLED');
    return deps.lake;
  };

  /** A source's lake objects: its event files and its uploads. `?source=web[&prefix=date=2026-11-22/]` */
  app.get('/api/lake', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const source = await requireSource(state, req, q.source, 'viewer');
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
    const source = await requireSource(state, req, q.source, 'viewer');
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
    const source = await requireSource(state, req, body.source, 'editor');
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
    return { id: `${source.id}.${await deps.tasks.start(task)}` };
  });

  app.get('/api/tasks/:id', async (req) => {
    if (!deps.tasks) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'this process runs no sinks' });
    const id = (req.params as { id: string }).id;
    const m = TASK_ID.exec(id);
    if (!m) throw new WeirError('WEIR_TASK_NOT_FOUND', { id });
    try {
      await requireSource(state, req, m[1], 'viewer');
    } catch (err) {
      // A task of a source the caller cannot see reads as missing, like the source itself.
      if (err instanceof WeirError && err.code === 'WEIR_SOURCE_NOT_FOUND') throw new WeirError('WEIR_TASK_NOT_FOUND', { id });
      throw err;
    }
    return { ...(await deps.tasks.get(m[2]!)), id };
  });

  app.get('/api/failed-events', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const filter = {
      sourceId: await sourceIdParam(state, req, q.source),
      sourceIds: q.source === undefined ? await visibleSourceIds(state, req) : undefined,
      since: dateParam(q.since, 'since'),
    };
    const events = await state.listFailedEvents({ ...filter, reason: q.reason, limit: positiveInt(q.limit, 'limit', 100) });
    return {
      /** Failed events per reason under the same filter, the reason aside (for a reason picker). */
      reasons: Object.fromEntries(await state.countFailedEvents(filter)),
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
    // A session replays one source at a time: across sources it would need editor everywhere.
    if (req.principal?.kind === 'session' && body.source === undefined) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'source is required' });
    }
    return deps.replayFailed({
      sourceId: await sourceIdParam(state, req, body.source, 'editor'),
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
    const workspaceId = q.workspace === undefined ? undefined : (await visibleWorkspace(state, req, q.workspace)).id;
    const usage = await usageReport(state, {
      sourceId: await sourceIdParam(state, req, q.source),
      workspaceId,
      since: dateParam(q.since, 'since'),
      until: dateParam(q.until, 'until'),
      by,
    });
    return { by, usage: usage.filter((u) => canSee(req, u.workspaceId)) };
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
