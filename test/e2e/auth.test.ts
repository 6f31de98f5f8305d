import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, eventually, removeDir, tempDir, weir, WeirServer } from '../helpers/weir-process.js';
import { apiSignIn, createUser, TEST_PASSWORD } from '../helpers/ui-session.js';

describe('weir users (CLI)', () => {
  test('creates users with a generated or a piped password, lists, grants and deletes them', () => {
    const dir = tempDir();
    try {
      const env = { WEIR_DATA_DIR: dir };
      const created = weir(['users', 'create', 'Ann@Example.com', '--role', 'admin'], { env });
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, /created user ann@example\.com \(usr_[A-Za-z0-9]+\), admin in workspace default/);
      assert.match(created.stdout, /password: [A-Za-z0-9]{24}\s/);
      const piped = weir(['users', 'create', 'bob@example.com', '--password-stdin'], { env, input: `${TEST_PASSWORD}\n` });
      assert.equal(piped.status, 0, piped.stderr);
      assert.doesNotMatch(piped.stdout, /password/);
      assert.equal(weir(['workspaces', 'create', 'acme'], { env }).status, 0);
      const granted = weir(['users', 'grant', 'BOB@example.com', '--workspace', 'acme', '--role', 'editor'], { env });
      assert.equal(granted.status, 0, granted.stderr);
      const list = weir(['users', 'list'], { env });
      assert.match(list.stdout, /ann@example\.com\s+default:admin/);
      assert.match(list.stdout, /bob@example\.com\s+default:viewer, acme:editor/);
      const taken = weir(['users', 'create', 'ANN@example.com'], { env });
      assert.notEqual(taken.status, 0);
      assert.match(taken.stderr, /WEIR_USER_EMAIL_TAKEN/);
      assert.equal(weir(['users', 'delete', 'bob@example.com'], { env }).status, 0);
      assert.deepEqual(JSON.parse(weir(['users', 'list', '--json'], { env }).stdout).map((u: { email: string }) => u.email), ['ann@example.com']);
    } finally {
      removeDir(dir);
    }
  });

  test('bad option values exit 2 naming the option and the value', () => {
    const dir = tempDir();
    try {
      const env = { WEIR_DATA_DIR: dir };
      const role = weir(['users', 'create', 'a@example.com', '--role', 'owner'], { env });
      assert.equal(role.status, 2);
      assert.match(role.stderr, /--role/);
      assert.match(role.stderr, /owner/);
      const email = weir(['users', 'create', 'not an email'], { env });
      assert.equal(email.status, 2);
      assert.match(email.stderr, /<email>.*not an email/);
      const short = weir(['users', 'create', 'a@example.com', '--password-stdin'], { env, input: 'short\n' });
      assert.equal(short.status, 2);
      assert.match(short.stderr, /--password-stdin.*12 characters/);
      const workspace = weir(['users', 'create', 'a@example.com', '--workspace', 'nope'], { env });
      assert.equal(workspace.status, 2);
      assert.match(workspace.stderr, /--workspace.*nope/);
      const missing = weir(['users', 'grant', 'ghost@example.com', '--workspace', 'default', '--role', 'viewer'], { env });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /ghost@example\.com/);
      assert.equal(weir(['users', 'grant', 'ghost@example.com', '--workspace', 'default'], { env }).status, 2, '--role is required');
    } finally {
      removeDir(dir);
    }
  });
});

describe('sessions against weir up', () => {
  let server: WeirServer;
  const dataDir = tempDir();

  before(async () => {
    server = await WeirServer.start({ dataDir, workers: 1 });
    createUser(dataDir, 'ann@example.com', TEST_PASSWORD, { role: 'editor' });
  });
  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  test('the first-start banner says how to create the first user', async () => {
    // The banner's last lines may arrive after the ones the start waited for.
    await eventually(() => /weir users create \S+ --role admin/.test(server.output.stdout), 5000);
    assert.match(server.output.stdout, /weir users create \S+ --role admin/);
  });

  test('a session reads and changes with its CSRF token; logout ends it; a write key reads nothing', async () => {
    const none = await fetch(`${server.url}/api/sources`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { code: string }).code, 'WEIR_AUTH_NO_SESSION');
    for (const authorization of [basic(server.writeKey), `Bearer ${server.writeKey}`]) {
      for (const path of ['/api/sources', '/api/auth/me', '/api/failed-events', '/api/usage']) {
        assert.equal((await fetch(`${server.url}${path}`, { headers: { authorization } })).status, 401, `${path} with a write key`);
      }
    }

    const s = await apiSignIn(server.url, 'ann@example.com');
    assert.deepEqual(s.me.workspaces.map((w) => w.role), ['editor']);
    const list = await fetch(`${server.url}/api/sources`, { headers: { cookie: s.cookie } });
    assert.equal(list.status, 200);
    const { sources } = (await list.json()) as { sources: Array<{ writeKey: string; snippet: string }> };
    assert.equal(sources[0]!.snippet, `<script defer src="${server.url}/weir.js" data-write-key="${server.writeKey}"></script>`);

    const noCsrf = await fetch(`${server.url}/api/sources`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json' }, body: '{"name":"web"}' });
    assert.equal(noCsrf.status, 403);
    const crossSite = await fetch(`${server.url}/api/sources`, { method: 'POST', headers: { ...s.headers, origin: 'https://evil.example' }, body: '{"name":"web"}' });
    assert.equal(crossSite.status, 403);
    const created = await fetch(`${server.url}/api/sources`, { method: 'POST', headers: s.headers, body: '{"name":"web"}' });
    assert.equal(created.status, 201);

    const out = await fetch(`${server.url}/api/auth/logout`, { method: 'POST', headers: s.headers });
    assert.equal(out.status, 204);
    assert.equal((await fetch(`${server.url}/api/auth/me`, { headers: { cookie: s.cookie } })).status, 401);
  });

  test('the UI page loads without a session (it shows the log-in form; its API calls are checked)', async () => {
    const res = await fetch(`${server.url}/ui/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  });

  test('a wrong password is 401, and repeated failures are throttled with 429', async () => {
    const attempt = (password: string) =>
      fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ann@example.com', password }) });
    for (let i = 0; i < 5; i++) assert.equal((await attempt(`wrong-${i}`)).status, 401);
    const blocked = await attempt(TEST_PASSWORD);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
  });
});
