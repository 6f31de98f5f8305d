import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, HTTPMethods, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../config/load.js';
import { openLog } from '../server/backends.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import { WriteKeyCache } from '../collector/write-keys.js';
import { createMetrics } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import { hashPassword } from '../auth/passwords.js';
import { newSessionSecrets } from '../auth/sessions.js';
import type { EventLog } from '../log/event-log.js';
import type { Source, StateStore, Workspace } from '../state/state-store.js';
import { registeredApiRoutes } from './auth.js';

const PASSWORD = 'a-long-enough-password';
const TTL_MS = 3_600_000;

/** `weir up`'s HTTP app on a real SQLite store and real file logs, driven through `inject()`. */
describe('API authentication and roles', () => {
  let dir: string;
  let state: StateStore;
  let logs: EventLog[];
  let app: FastifyInstance;
  let main: Workspace;
  let other: Workspace;
  let mainSource: Source;
  let otherSource: Source;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weir-auth-'));
    const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: dir, ui: { sessionTtlMs: TTL_MS }, server: { trustProxy: '127.0.0.1' } } });
    state = await openSqliteStateStore({ file: join(dir, 'weir.sqlite') });
    const boot = await state.bootstrap();
    main = boot.workspace;
    mainSource = boot.source;
    other = await state.createWorkspace('other');
    otherSource = await state.createSource({ workspaceId: other.id, name: 'secret' });
    const log = await openLog(config);
    const failedLog = await openLog(config, { stream: 'failed' });
    logs = [log, failedLog];
    app = await buildApp({
      config,
      writer: await log.openWriter(0),
      failedWriter: await failedLog.openWriter(0),
      keys: new WriteKeyCache(state),
      state,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger('silent'),
    });
    const hash = await hashPassword(PASSWORD);
    for (const [email, role] of [['viewer@example.com', 'viewer'], ['editor@example.com', 'editor']] as const) {
      const user = await state.createUser({ email, passwordHash: hash });
      await state.setMembership(user.id, main.id, role);
    }
    await state.insertFailedEvents([
      { sourceId: mainSource.id, reason: 'WEIR_EVENT_MISSING_EVENT_NAME', message: 'm', messageId: null, payload: '{"type":"track"}', receivedAt: new Date(), partition: 0, offset: 1 },
      { sourceId: otherSource.id, reason: 'WEIR_EVENT_MISSING_TYPE', message: 'm', messageId: null, payload: '{}', receivedAt: new Date(), partition: 0, offset: 2 },
    ]);
  });
  after(async () => {
    await app.close();
    for (const l of logs) await l.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const login = (email: string, password = PASSWORD, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ email, password }) });

  async function session(email: string): Promise<{ cookie: string; csrf: string; headers: Record<string, string> }> {
    const res = await login(email);
    assert.equal(res.statusCode, 200, res.body);
    const cookie = /weir_session=[^;]+/.exec(String(res.headers['set-cookie']))![0];
    const csrf = res.json().csrfToken as string;
    return { cookie, csrf, headers: { cookie, 'x-weir-csrf': csrf, 'content-type': 'application/json' } };
  }

  const code = (res: LightMyRequestResponse) => (res.json() as { code: string }).code;

  it('answers 401 on every /api route without a session or token, and with a write key (Basic or Bearer)', async () => {
    const routes = registeredApiRoutes(app);
    assert.ok(routes.length >= 15, `found ${routes.length} routes`);
    // Only the sign-in itself answers without a principal.
    assert.deepEqual(routes.filter((r) => r.public).map((r) => `${r.method} ${r.url}`), ['POST /api/auth/login']);
    const basic = `Basic ${Buffer.from(`${mainSource.writeKey}:`).toString('base64')}`;
    for (const r of routes.filter((route) => !route.public)) {
      const url = r.url.replace(/:\w+/g, 'x').replace(/\*/g, 'x') + `?source=${mainSource.id}`;
      const method = r.method as HTTPMethods;
      const none = await app.inject({ method, url });
      assert.equal(none.statusCode, 401, `${r.method} ${r.url}`);
      if (method !== 'HEAD') assert.equal(code(none), 'WEIR_AUTH_NO_SESSION', `${r.method} ${r.url}`);
      for (const authorization of [basic, `Bearer ${mainSource.writeKey}`]) {
        const res = await app.inject({ method, url, headers: { authorization, 'content-type': 'application/json' }, payload: method === 'GET' || method === 'HEAD' ? undefined : '{}' });
        assert.equal(res.statusCode, 401, `${r.method} ${r.url} with a write key`);
      }
      const forged = await app.inject({ method, url, headers: { cookie: 'weir_session=forged' } });
      assert.equal(forged.statusCode, 401, `${r.method} ${r.url} with a forged cookie`);
    }
  });

  it('signs in with a cookie that is httpOnly, SameSite=Strict, Path=/ and lasts the session TTL; Secure over https', async () => {
    const res = await login('Viewer@Example.com');
    assert.equal(res.statusCode, 200);
    const cookie = String(res.headers['set-cookie']);
    assert.match(cookie, /^weir_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
    const me = res.json();
    assert.equal(me.user.email, 'viewer@example.com');
    assert.match(me.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(me.workspaces, [{ id: main.id, name: 'default', role: 'viewer' }]);
    // Behind a trusted proxy that terminated TLS.
    const https = await login('viewer@example.com', PASSWORD, { 'x-forwarded-proto': 'https' });
    assert.match(String(https.headers['set-cookie']), /; Secure$/);
    // The session id itself is not what the store keeps.
    const id = /weir_session=([^;]+)/.exec(cookie)![1]!;
    assert.equal(await state.getSession(id, new Date()), undefined);
  });

  it('refuses a session change without the CSRF header, with a wrong one, and from another site (403)', async () => {
    const s = await session('editor@example.com');
    const post = (headers: Record<string, string>, name: string) =>
      app.inject({ method: 'POST', url: '/api/sources', headers, payload: JSON.stringify({ name }) });
    const { 'x-weir-csrf': _, ...withoutCsrf } = s.headers;
    for (const [what, headers] of [
      ['no header', withoutCsrf],
      // Its last character changed: to 'A' unless it already was one (1 token in 64 ends so).
      ['wrong header', { ...s.headers, 'x-weir-csrf': `${s.csrf.slice(0, -1)}${s.csrf.endsWith('A') ? 'B' : 'A'}` }],
      ['empty header', { ...s.headers, 'x-weir-csrf': '' }],
      ['cross-site Origin', { ...s.headers, origin: 'https://evil.example' }],
      ['null Origin', { ...s.headers, origin: 'null' }],
      ['cross-site Sec-Fetch-Site', { ...s.headers, 'sec-fetch-site': 'cross-site' }],
      ['same-site Sec-Fetch-Site', { ...s.headers, 'sec-fetch-site': 'same-site' }],
    ] as const) {
      const res = await post(headers, 'nope');
      assert.equal(res.statusCode, 403, what);
      assert.equal(code(res), 'WEIR_AUTH_CSRF_REJECTED', what);
    }
    assert.equal((await state.listSources()).some((x) => x.name === 'nope'), false);
    const ok = await post({ ...s.headers, origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' }, 'by-editor');
    assert.equal(ok.statusCode, 201, ok.body);
    const created = ok.json().source;
    assert.equal(created.workspaceId, main.id);
    assert.equal(created.snippet, `<script defer src="http://localhost/weir.js" data-write-key="${created.writeKey}"></script>`);
    // Reading needs no CSRF token; a bearer token needs none at all.
    assert.equal((await app.inject({ method: 'GET', url: '/api/sources', headers: { cookie: s.cookie } })).statusCode, 200);
  });

  it('answers 401 to a wrong password, then 429 with Retry-After once the failures are used up', async () => {
    const ip = { 'x-forwarded-for': '203.0.113.9' };
    const wrong = await login('viewer@example.com', 'not-the-password', ip);
    assert.equal(wrong.statusCode, 401);
    assert.equal(code(wrong), 'WEIR_AUTH_BAD_CREDENTIALS');
    const unknown = await login('nobody@example.com', PASSWORD, ip);
    assert.equal(code(unknown), 'WEIR_AUTH_BAD_CREDENTIALS', 'an unknown email answers the same');
    for (let i = 0; i < 4; i++) assert.equal((await login('VIEWER@example.com', 'guess' + i, ip)).statusCode, 401);
    const blocked = await login('viewer@example.com', PASSWORD, ip);
    assert.equal(blocked.statusCode, 429, 'even the right password waits');
    assert.equal(code(blocked), 'WEIR_AUTH_TOO_MANY_ATTEMPTS');
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter}`);
    // The throttle is per email and address: the same user from elsewhere, and others, still sign in.
    assert.equal((await login('viewer@example.com', PASSWORD, { 'x-forwarded-for': '203.0.113.10' })).statusCode, 200);
    assert.equal((await login('editor@example.com', PASSWORD, ip)).statusCode, 200);
  });

  it('refuses a sign-in from another site and a malformed body', async () => {
    const cross = await login('viewer@example.com', PASSWORD, { origin: 'https://evil.example' });
    assert.equal(cross.statusCode, 403);
    assert.equal(code(cross), 'WEIR_AUTH_CSRF_REJECTED');
    const bad = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":1}' });
    assert.equal(bad.statusCode, 400);
  });

  it('ends the session at logout and clears the cookie', async () => {
    const s = await session('viewer@example.com');
    assert.equal((await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: s.cookie } })).statusCode, 200);
    const out = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: s.headers });
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /^weir_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
    const after = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: s.cookie } });
    assert.equal(after.statusCode, 401);
    assert.equal(code(after), 'WEIR_AUTH_NO_SESSION');
  });

  it('answers 401 to an expired session and renews a used one', async () => {
    const user = (await state.userByEmail('viewer@example.com'))!;
    const expired = newSessionSecrets();
    const now = Date.now();
    await state.createSession({ idHash: expired.idHash, userId: user.id, csrfToken: expired.csrfToken, createdAt: new Date(now - 2 * TTL_MS), expiresAt: new Date(now - 1000) });
    const res = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: `weir_session=${expired.id}` } });
    assert.equal(res.statusCode, 401);
    assert.equal(code(res), 'WEIR_AUTH_NO_SESSION');

    const idle = newSessionSecrets();
    await state.createSession({ idHash: idle.idHash, userId: user.id, csrfToken: idle.csrfToken, createdAt: new Date(now - TTL_MS / 2), expiresAt: new Date(now + TTL_MS / 2) });
    const used = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: `weir_session=${idle.id}` } });
    assert.equal(used.statusCode, 200);
    assert.match(String(used.headers['set-cookie']), /Max-Age=3600/);
    const renewed = await state.getSession(idle.idHash, new Date());
    assert.ok(renewed!.expiresAt.getTime() >= now + TTL_MS - 1000);
  });

  it('lets a viewer read its workspace only: no source creation (403), no other workspace (404 or filtered)', async () => {
    const s = await session('viewer@example.com');
    const create = await app.inject({ method: 'POST', url: '/api/sources', headers: s.headers, payload: '{"name":"mine"}' });
    assert.equal(create.statusCode, 403);
    assert.equal(code(create), 'WEIR_AUTH_FORBIDDEN');
    const elsewhere = await app.inject({ method: 'POST', url: '/api/sources', headers: s.headers, payload: JSON.stringify({ name: 'x', workspaceId: other.id }) });
    assert.equal(elsewhere.statusCode, 400, 'a hidden workspace reads as missing');

    const get = (url: string) => app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
    const sources = (await get('/api/sources')).json().sources as Source[];
    assert.deepEqual(sources.map((x) => x.workspaceId).filter((w) => w !== main.id), []);
    for (const url of [`/api/failed-events?source=${otherSource.id}`, `/api/lake?source=${otherSource.id}`, `/api/usage?source=${otherSource.id}`]) {
      const res = await get(url);
      assert.equal(res.statusCode, 404, url);
      assert.equal(code(res), 'WEIR_SOURCE_NOT_FOUND', url);
    }
    assert.equal((await get(`/api/sources?workspace=${other.id}`)).statusCode, 400);
    assert.equal((await get(`/api/usage?workspace=${other.id}`)).statusCode, 400);
    const failed = (await get('/api/failed-events')).json();
    assert.deepEqual(failed.failedEvents.map((e: { sourceId: string }) => e.sourceId), [mainSource.id]);
    assert.deepEqual(failed.reasons, { WEIR_EVENT_MISSING_EVENT_NAME: 1 });
    const query = await app.inject({ method: 'POST', url: '/api/query', headers: s.headers, payload: JSON.stringify({ sql: 'select 1', source: otherSource.id }) });
    assert.equal(query.statusCode, 404);
    const replay = await app.inject({ method: 'POST', url: '/api/failed-events/replay', headers: s.headers, payload: JSON.stringify({ source: mainSource.id }) });
    assert.equal(replay.statusCode, 403, 'replay needs editor');
    const me = (await get('/api/workspaces')).json();
    assert.deepEqual(me.workspaces, [{ id: main.id, name: 'default', role: 'viewer' }]);
  });

  it('lets an editor replay failed events of its source, not of another workspace', async () => {
    const s = await session('editor@example.com');
    const replay = (body: unknown) => app.inject({ method: 'POST', url: '/api/failed-events/replay', headers: s.headers, payload: JSON.stringify(body) });
    const mine = await replay({ source: mainSource.id, dryRun: true });
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().examined, 1);
    assert.equal((await replay({ source: otherSource.id })).statusCode, 404);
    assert.equal((await replay({})).statusCode, 400, 'a session names the source');
  });
});
