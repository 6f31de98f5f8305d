import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import { ROLES, type Role, type Source, type StateStore } from '../state/state-store.js';
import { cookieValue, secretsEqual, SESSION_COOKIE, sessionCookie, sessionIdHash } from '../auth/sessions.js';

export { ROLES, type Role };

/**
 * Who is calling the management API. An admin token (CLI, automation) may do anything in every
 * workspace; a UI session may do what its roles allow in the workspaces it belongs to.
 */
export type Principal =
  | { kind: 'token' }
  | { kind: 'session'; userId: string; email: string; roles: ReadonlyMap<string, Role>; csrfToken: string; sessionIdHash: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every `/api/` request by {@link apiAuth}; absent elsewhere. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** `'none'`: the route answers without a principal (only `POST /api/auth/login`). */
    auth?: 'none';
  }
}

/** What the auth hook needs. */
export interface AuthOptions {
  state: StateStore;
  /** `ui.sessionTtlMs`: a session lasts this long after its last use. */
  sessionTtlMs: number;
}

/** Methods that change nothing, and so need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request came over https (directly, or through a trusted proxy). */
export function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

/**
 * Refuses a request that a browser marked as coming from another site. `Sec-Fetch-Site` is sent
 * by current browsers on every request; `Origin` by all on a cross-origin POST. Clients that send
 * neither (curl, the CLI) are not browsers, and have no ambient cookie to abuse.
 */
export function checkSameOrigin(req: FastifyRequest): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new WeirError('WEIR_AUTH_CSRF_REJECTED', { detail: `Sec-Fetch-Site is ${site}` });
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${req.protocol}://${req.host}`) {
    throw new WeirError('WEIR_AUTH_CSRF_REJECTED', { detail: `Origin ${origin} is not this site` });
  }
}

/** Renew a session's expiry at most this often, so a busy page does not write on every request. */
function renewAfterMs(ttlMs: number): number {
  return Math.min(60_000, ttlMs / 10);
}

async function sessionPrincipal(opts: AuthOptions, req: FastifyRequest, reply: FastifyReply, id: string): Promise<Principal> {
  const idHash = sessionIdHash(id);
  const now = new Date();
  const session = await opts.state.getSession(idHash, now);
  if (session === undefined) throw new WeirError('WEIR_AUTH_NO_SESSION');
  if (now.getTime() - session.lastSeenAt.getTime() > renewAfterMs(opts.sessionTtlMs)) {
    await opts.state.renewSession(idHash, now, new Date(now.getTime() + opts.sessionTtlMs));
    reply.header('set-cookie', sessionCookie(id, opts.sessionTtlMs, isHttps(req)));
  }
  if (!SAFE_METHODS.has(req.method)) {
    checkSameOrigin(req);
    const sent = req.headers['x-weir-csrf'];
    if (typeof sent !== 'string' || sent === '') throw new WeirError('WEIR_AUTH_CSRF_REJECTED', { detail: 'no x-weir-csrf header' });
    if (!secretsEqual(sent, session.csrfToken)) throw new WeirError('WEIR_AUTH_CSRF_REJECTED', { detail: 'x-weir-csrf does not match the session' });
  }
  return {
    kind: 'session',
    userId: session.userId,
    email: session.user.email,
    roles: new Map(session.user.memberships.map((m) => [m.workspaceId, m.role])),
    csrfToken: session.csrfToken,
    sessionIdHash: idHash,
  };
}

/**
 * Identifies the caller of an `/api/` request, or throws 401: an admin token in
 * `Authorization: Bearer`, or the `weir_session` cookie of a signed-in user (whose changes must
 * also carry the CSRF token and come from this site, else 403). A write key is never accepted:
 * it is public, and tokens and write keys live in different tables.
 */
export async function authenticate(opts: AuthOptions, req: FastifyRequest, reply: FastifyReply): Promise<Principal> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    if (!/^bearer /i.test(header)) throw new WeirError('WEIR_AUTH_MISSING_TOKEN');
    if (!(await opts.state.verifyAdminToken(header.slice(7).trim()))) throw new WeirError('WEIR_AUTH_INVALID_TOKEN');
    return { kind: 'token' };
  }
  const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
  if (id === undefined || id === '') throw new WeirError('WEIR_AUTH_NO_SESSION');
  return sessionPrincipal(opts, req, reply, id);
}

/** An `/api/` route as registered. */
export interface ApiRoute {
  method: string;
  url: string;
  /** Answers without a principal (`config: { auth: 'none' }`). */
  public: boolean;
}

const API_ROUTES = new WeakMap<FastifyInstance, ApiRoute[]>();

/**
 * Every `/api/` route registered on `app` since {@link apiAuth}, so tests can check each one
 * without a hand-kept list that a new route could be missing from.
 *
 * @example
 * ```ts
 * for (const r of registeredApiRoutes(app)) await app.inject({ method: r.method, url: r.url });
 * ```
 */
export function registeredApiRoutes(app: FastifyInstance): readonly ApiRoute[] {
  return API_ROUTES.get(app) ?? [];
}

/**
 * Guards every `/api/` route of `app` (registered at the root, so routes of every plugin are
 * covered, including those registered later). A route opts out with `config: { auth: 'none' }`.
 *
 * @example
 * ```ts
 * apiAuth(app, { state, sessionTtlMs: config.ui.sessionTtlMs });
 * app.get('/api/things', async (req) => { requireRole(req, workspaceId, 'viewer'); … });
 * ```
 */
export function apiAuth(app: FastifyInstance, opts: AuthOptions): void {
  const routes: ApiRoute[] = [];
  API_ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, public: route.config?.auth === 'none' });
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    if (req.routeOptions.config?.auth === 'none') return;
    req.principal = await authenticate(opts, req, reply);
  });
}

function rank(role: Role): number {
  return ROLES.indexOf(role);
}

/** Throws 403 unless the caller holds at least `min` in `workspaceId`. */
export function requireRole(req: FastifyRequest, workspaceId: string, min: Role): void {
  const p = req.principal;
  if (!p) throw new WeirError('WEIR_AUTH_NO_SESSION');
  if (p.kind === 'token') return;
  const role = p.roles.get(workspaceId);
  if (role === undefined || rank(role) < rank(min)) throw new WeirError('WEIR_AUTH_FORBIDDEN', { role: min });
}

/** Whether the caller may see `workspaceId` at all. */
export function canSee(req: FastifyRequest, workspaceId: string): boolean {
  const p = req.principal;
  return p !== undefined && (p.kind === 'token' || p.roles.has(workspaceId));
}

/**
 * The workspaces `principal` can see, with its role in each (an admin token sees all, as admin).
 *
 * @example
 * ```ts
 * const workspaces = await visibleWorkspaces(state, req.principal); // [{ id, name, role }]
 * ```
 */
export async function visibleWorkspaces(state: StateStore, principal: Principal | undefined): Promise<Array<{ id: string; name: string; role: Role }>> {
  const req = { principal } as FastifyRequest;
  return (await state.listWorkspaces())
    .filter((w) => canSee(req, w.id))
    .map((w) => ({ id: w.id, name: w.name, role: principal?.kind === 'session' ? principal.roles.get(w.id)! : 'admin' }));
}

/**
 * The source named by `idOrName` if the caller holds at least `min` in its workspace. A source in
 * a workspace the caller cannot see answers like a missing one (404), so ids don't leak.
 *
 * @example
 * ```ts
 * const source = await requireSource(state, req, query.source, 'viewer');
 * ```
 */
export async function requireSource(state: StateStore, req: FastifyRequest, idOrName: unknown, min: Role): Promise<Source> {
  if (typeof idOrName !== 'string' || idOrName === '') throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'source is required' });
  const source = await state.getSource(idOrName);
  if (!source || !canSee(req, source.workspaceId)) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: idOrName });
  requireRole(req, source.workspaceId, min);
  return source;
}
