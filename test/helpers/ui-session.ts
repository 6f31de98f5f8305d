/**
 * Signed-in users for UI and API tests: create them with the real CLI, sign in through the real
 * log-in form (browser) or `POST /api/auth/login` (fetch).
 *
 * @example
 * ```ts
 * createUser(server.dataDir, 'ann@example.com', PASSWORD, { role: 'editor' });
 * await signIn(page, server.url, 'ann@example.com', PASSWORD);   // the shell is showing
 * const s = await apiSignIn(server.url, 'ann@example.com', PASSWORD);
 * await fetch(`${server.url}/api/sources`, { method: 'POST', headers: s.headers, body: '{"name":"web"}' });
 * ```
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { basic, eventually, post, weir, type WeirServer } from './weir-process.js';

/** A password long enough for `--password-stdin`. */
export const TEST_PASSWORD = 'correct-horse-battery-staple';

/** Creates a user with `weir users create … --password-stdin` against a data directory. */
export function createUser(
  dataDir: string,
  email: string,
  password = TEST_PASSWORD,
  opts: { workspace?: string; role?: 'viewer' | 'editor' | 'admin' } = {},
): void {
  const args = ['users', 'create', email, '--password-stdin', '--role', opts.role ?? 'admin'];
  if (opts.workspace) args.push('--workspace', opts.workspace);
  const r = weir(args, { env: { WEIR_DATA_DIR: dataDir }, input: `${password}\n` });
  assert.equal(r.status, 0, `weir users create failed: ${r.stderr}`);
}

/** Gives an existing user a role in a workspace (`weir users grant`). */
export function grantRole(dataDir: string, email: string, workspace: string, role: 'viewer' | 'editor' | 'admin'): void {
  const r = weir(['users', 'grant', email, '--workspace', workspace, '--role', role], { env: { WEIR_DATA_DIR: dataDir } });
  assert.equal(r.status, 0, `weir users grant failed: ${r.stderr}`);
}

/** Opens the UI, fills in the log-in form and waits for the signed-in shell (its nav). */
export async function signIn(page: Page, baseUrl: string, email: string, password = TEST_PASSWORD): Promise<void> {
  await page.goto(`${baseUrl}/ui/`);
  await page.locator('form.login input[name=email]').fill(email);
  await page.locator('form.login input[name=password]').fill(password);
  await page.locator('form.login button[type=submit]').click();
  await page.locator('header.top nav').waitFor({ state: 'visible', timeout: 15_000 });
}

/** A session for fetch: the cookie, the CSRF token, and headers for a same-origin JSON change. */
export interface ApiSession {
  cookie: string;
  csrfToken: string;
  headers: Record<string, string>;
  me: { user: { id: string; email: string }; csrfToken: string; workspaces: Array<{ id: string; name: string; role: string }> };
}

/** Signs in with `POST /api/auth/login` and returns what later requests need. */
export async function apiSignIn(baseUrl: string, email: string, password = TEST_PASSWORD): Promise<ApiSession> {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, `sign-in failed: ${await res.clone().text()}`);
  const cookie = /weir_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0];
  assert.ok(cookie, 'sign-in sets the session cookie');
  const me = (await res.json()) as ApiSession['me'];
  return { cookie, csrfToken: me.csrfToken, me, headers: { cookie, 'x-weir-csrf': me.csrfToken, 'content-type': 'application/json' } };
}

/**
 * Sends a batch with the server's default write key and waits until the failed-events store
 * holds `failed` events (the store fills asynchronously from the failed log), so pages have data.
 */
export async function seedEvents(server: WeirServer, batch: unknown[], failed: number): Promise<void> {
  const res = await post(server, '/v1/batch', { batch }, { authorization: basic(server.writeKey) });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await eventually(async () => {
    const r = await fetch(`${server.url}/api/failed-events`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    return ((await r.json()) as { failedEvents: unknown[] }).failedEvents.length === failed;
  }, 30_000);
}
