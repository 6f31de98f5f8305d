import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import type { Source, StateStore } from '../state/state-store.js';
import { decodeJsonBody } from '../collector/body.js';
import { parseQueryRequest, type QueryRequest, type QueryResponse } from '../warehouse/run-query.js';

function jsonBody(req: FastifyRequest, limit: number): unknown {
  return decodeJsonBody((req.body as Buffer | undefined) ?? Buffer.alloc(0), {
    contentType: req.headers['content-type'],
    contentEncoding: req.headers['content-encoding'],
  }, limit);
}

export interface AdminDeps {
  state: StateStore;
  /** Runs a console query where the warehouse lives (in `weir up`, the supervisor). */
  query?: (req: QueryRequest) => Promise<QueryResponse>;
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

function positiveInt(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10000) {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${option} must be an integer from 1 to 10000, got ${String(value)}` });
  }
  return n;
}

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

  app.get('/api/failed-events', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    let since: Date | undefined;
    if (q.since !== undefined) {
      since = new Date(q.since);
      if (Number.isNaN(since.getTime())) {
        throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `since must be an ISO-8601 date, got ${q.since}` });
      }
    }
    let sourceId: string | undefined;
    if (q.source !== undefined) {
      const source = await state.getSource(q.source);
      if (!source) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: q.source });
      sourceId = source.id;
    }
    const events = await state.listFailedEvents({ sourceId, reason: q.reason, since, limit: positiveInt(q.limit, 'limit', 100) });
    return {
      failedEvents: events.map((e) => ({ ...e, receivedAt: e.receivedAt.toISOString(), payload: safeParse(e.payload) })),
    };
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
