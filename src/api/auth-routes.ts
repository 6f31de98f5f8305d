import type { FastifyInstance } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import type { StateStore } from '../state/state-store.js';
import { verifyPassword } from '../auth/passwords.js';
import { LoginThrottle, type LoginThrottleOptions } from '../auth/login-throttle.js';
import { clearedSessionCookie, newSessionSecrets, sessionCookie } from '../auth/sessions.js';
import { checkSameOrigin, isHttps, visibleWorkspaces, type Principal } from './auth.js';
import { jsonBody } from './admin-routes.js';

export interface AuthRoutesDeps {
  state: StateStore;
  sessionTtlMs: number;
  /** Failed sign-ins allowed per email and client address; defaults to 5 per 15 minutes. */
  throttle?: LoginThrottleOptions;
}

/** `{ user, csrfToken, workspaces }`: what `/api/auth/me` and `/api/auth/login` answer (`ui/src/session.ts`). */
async function meView(state: StateStore, p: Principal | undefined) {
  return {
    user: p?.kind === 'session' ? { id: p.userId, email: p.email } : null,
    csrfToken: p?.kind === 'session' ? p.csrfToken : null,
    workspaces: await visibleWorkspaces(state, p),
  };
}

/** Emails and passwords longer than this are refused before any hashing. */
const MAX_FIELD_CHARS = 1024;

/**
 * Sign-in for the web UI: `POST /api/auth/login {email, password}` sets the `weir_session`
 * cookie and answers like `/api/auth/me`; `POST /api/auth/logout` ends the session;
 * `GET /api/auth/me` says who is calling.
 *
 * @example
 * ```ts
 * await app.register(authRoutes, { state, sessionTtlMs: config.ui.sessionTtlMs });
 * // curl -c jar -H 'content-type: application/json' -d '{"email":"a@b.c","password":"…"}' localhost:8080/api/auth/login
 * ```
 */
export async function authRoutes(app: FastifyInstance, deps: AuthRoutesDeps): Promise<void> {
  const { state, sessionTtlMs } = deps;
  const throttle = new LoginThrottle(state, deps.throttle);

  app.get('/api/auth/me', async (req) => meView(state, req.principal));

  app.post('/api/auth/login', { bodyLimit: 4096, config: { auth: 'none' } }, async (req, reply) => {
    // Another site must not sign a visitor in to an account of its choosing either.
    checkSameOrigin(req);
    const body = jsonBody(req, 4096) as { email?: unknown; password?: unknown } | null;
    const email = body?.email;
    const password = body?.password;
    if (typeof email !== 'string' || typeof password !== 'string' || email.length > MAX_FIELD_CHARS || password.length > MAX_FIELD_CHARS) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'the body must be {"email": "…", "password": "…"}' });
    }
    const key = LoginThrottle.key(email, req.ip);
    await throttle.check(key);
    const user = await state.userByEmail(email);
    // Spends a hash even when the email is unknown, so timing does not reveal who has an account.
    if (!(await verifyPassword(password, user?.passwordHash)) || user === undefined) {
      await throttle.failed(key);
      throw new WeirError('WEIR_AUTH_BAD_CREDENTIALS');
    }
    await throttle.succeeded(key);
    const now = new Date();
    await state.deleteExpiredSessions(now);
    const secrets = newSessionSecrets();
    await state.createSession({
      idHash: secrets.idHash,
      userId: user.id,
      csrfToken: secrets.csrfToken,
      createdAt: now,
      expiresAt: new Date(now.getTime() + sessionTtlMs),
    });
    reply.header('set-cookie', sessionCookie(secrets.id, sessionTtlMs, isHttps(req)));
    reply.header('cache-control', 'no-store');
    return meView(state, {
      kind: 'session',
      userId: user.id,
      email: user.email,
      roles: new Map(user.memberships.map((m) => [m.workspaceId, m.role])),
      csrfToken: secrets.csrfToken,
      sessionIdHash: secrets.idHash,
    });
  });

  app.post('/api/auth/logout', async (req, reply) => {
    if (req.principal?.kind === 'session') await state.deleteSession(req.principal.sessionIdHash);
    reply.header('set-cookie', clearedSessionCookie(isHttps(req)));
    return reply.code(204).send();
  });
}
