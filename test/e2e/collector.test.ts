import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { CLI, WeirServer, basic, eventually, post, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

describe('collector over real HTTP (weir up)', () => {
  let server: WeirServer;
  let dataDir: string;
  const auth = () => ({ authorization: basic(server.writeKey) });

  before(async () => {
    dataDir = tempDir();
    server = await WeirServer.start({ dataDir });
  });
  after(async () => {
    const code = await server.stop();
    assert.equal(code, 0, 'SIGTERM drains and exits 0');
    removeDir(dataDir);
  });

  test('first start prints the default write key and an admin token', () => {
    assert.match(server.writeKey, /^[A-Za-z0-9]{32}$/);
    assert.match(server.adminToken ?? '', /^weir_adm_/);
  });

  test('every Segment endpoint answers 200 once the events are durable', async () => {
    const h = auth();
    const calls: Array<[string, object]> = [
      ['/v1/track', { event: 'Order Completed', userId: 'u1', messageId: 'e2e-track', properties: { revenue: 9.5 } }],
      ['/v1/page', { anonymousId: 'a1', name: 'Home', messageId: 'e2e-page' }],
      ['/v1/screen', { anonymousId: 'a1', name: 'Main', messageId: 'e2e-screen' }],
      ['/v1/identify', { userId: 'u1', traits: { plan: 'pro' }, messageId: 'e2e-identify' }],
      ['/v1/group', { userId: 'u1', groupId: 'g1', messageId: 'e2e-group' }],
      ['/v1/alias', { userId: 'u1', previousId: 'a1', messageId: 'e2e-alias' }],
    ];
    for (const [path, body] of calls) {
      const r = await post(server, path, body, h);
      assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.json)}`);
      assert.deepEqual(r.json, { success: true });
    }
    const events = tailAll(dataDir).map((r) => r.event);
    for (const [path, body] of calls) {
      const found = events.find((e) => e.messageId === (body as { messageId: string }).messageId);
      assert.ok(found, `${path} is in the log`);
      assert.equal(found.type, path.slice(4));
      assert.ok(found.receivedAt && found.timestamp, 'normalised');
    }
  });

  test('a batch with bad items: 200, the rejected indexes with reasons, failed events listed', async () => {
    const r = await post(
      server,
      '/v1/batch',
      {
        batch: [
          { type: 'track', event: 'Good', userId: 'u', messageId: 'batch-good' },
          { type: 'track', userId: 'u', messageId: 'batch-no-name' },
          { type: 'identify', traits: {}, messageId: 'batch-no-id' },
        ],
        context: { library: { name: 'e2e' } },
      },
      auth(),
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.deepEqual(
      r.json.rejected.map((x: { index: number; code: string }) => [x.index, x.code]),
      [
        [1, 'WEIR_EVENT_MISSING_EVENT_NAME'],
        [2, 'WEIR_EVENT_MISSING_IDENTITY'],
      ],
    );
    const listed = await eventually(() => {
      const out = weir(['failed', 'list', '--json'], { env: { WEIR_DATA_DIR: dataDir } });
      assert.equal(out.status, 0, out.stderr);
      const rows = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      return rows.some((x) => x.messageId === 'batch-no-name') && rows.some((x) => x.messageId === 'batch-no-id') ? rows : undefined;
    });
    const noName = listed.find((x) => x.messageId === 'batch-no-name');
    assert.equal(noName.reason, 'WEIR_EVENT_MISSING_EVENT_NAME');
    const good = tailAll(dataDir).find((x) => x.event?.messageId === 'batch-good');
    assert.deepEqual(good?.event.context, { library: { name: 'e2e' } });
  });

  test('writeKey in the body, gzip bodies, text/plain beacons', async () => {
    const r1 = await post(server, '/v1/track', { writeKey: server.writeKey, event: 'BodyKey', userId: 'u', messageId: 'body-key' });
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    const gz = gzipSync(JSON.stringify({ batch: [{ type: 'track', event: 'Zipped', userId: 'u', messageId: 'gzipped' }] }));
    const r2 = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gz,
    });
    assert.equal(r2.status, 200, await r2.text());
    const r3 = await post(server, '/v1/page', { writeKey: server.writeKey, anonymousId: 'b', messageId: 'beacon' }, { 'content-type': 'text/plain;charset=UTF-8' });
    assert.equal(r3.status, 200);
    const ids = new Set(tailAll(dataDir).map((x) => x.event.messageId));
    for (const id of ['body-key', 'gzipped', 'beacon']) assert.ok(ids.has(id), id);
    const stored = tailAll(dataDir).find((x) => x.event.messageId === 'body-key');
    assert.equal(stored?.event.writeKey, undefined, 'the write key is not stored with the event');
  });

  test('auth: missing and unknown write keys get 401 with codes', async () => {
    const missing = await post(server, '/v1/track', { event: 'A', userId: 'u' });
    assert.equal(missing.status, 401);
    assert.equal(missing.json.code, 'WEIR_AUTH_MISSING_WRITE_KEY');
    const unknown = await post(server, '/v1/track', { event: 'A', userId: 'u' }, { authorization: basic('nope') });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.code, 'WEIR_AUTH_UNKNOWN_WRITE_KEY');
  });

  test('malformed JSON 400, oversize 413, wrong media type 415', async () => {
    const bad = await post(server, '/v1/track', '{"event":', auth());
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'WEIR_INGEST_MALFORMED_JSON');
    const big = await post(server, '/v1/track', { event: 'A', userId: 'u', properties: { s: 'x'.repeat(40_000) } }, auth());
    assert.equal(big.status, 413);
    assert.equal(big.json.code, 'WEIR_INGEST_BODY_TOO_LARGE');
    const bigBatch = await post(server, '/v1/batch', { batch: [{ type: 'track', event: 'A', userId: 'u', properties: { s: 'x'.repeat(600_000) } }] }, auth());
    assert.equal(bigBatch.status, 413);
    const form = await post(server, '/v1/track', 'event=A', { ...auth(), 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.equal(form.json.code, 'WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE');
  });

  test('CORS preflight allows browsers to send', async () => {
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    assert.ok(res.status === 204 || res.status === 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
  });

  test('healthz, readyz and Prometheus metrics from every worker', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'weir_ingest_events_total',
      'weir_ingest_requests_total',
      'weir_ingest_ack_seconds_bucket',
      'weir_log_fsync_seconds_bucket',
      'weir_log_bytes',
      'weir_log_segments',
      'weir_failed_events_total',
      'weir_ingest_errors_total',
      'weir_log_backlog_bytes',
      'weir_log_backlog_budget_bytes',
      // The supervisor's own: present at 0 before any restart.
      'weir_process_restarts_total{process="sinks"} 0',
    ]) {
      assert.ok(text.includes(name), `metrics include ${name}`);
    }
    // The supervisor concatenates the collectors', the sinks process's and its own registries.
    const families = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    assert.deepEqual(families.filter((f, i) => families.indexOf(f) !== i), [], 'no metric family appears twice');
    assert.match(text, /weir_failed_events_total\{reason="WEIR_EVENT_MISSING_EVENT_NAME"\} [1-9]/);
  });

  test('management API needs a session or the admin token; a write key cannot read', async () => {
    const none = await fetch(`${server.url}/api/sources`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { code: string }).code, 'WEIR_AUTH_NO_SESSION');
    const withWriteKey = await fetch(`${server.url}/api/sources`, { headers: { authorization: `Bearer ${server.writeKey}` } });
    assert.equal(withWriteKey.status, 401);
    const basicWriteKey = await fetch(`${server.url}/api/sources`, { headers: auth() });
    assert.equal(basicWriteKey.status, 401);
    const ok = await fetch(`${server.url}/api/sources`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { sources: Array<{ writeKey: string }> };
    assert.ok(body.sources.some((s) => s.writeKey === server.writeKey));
  });

  test('a source created with the CLI ingests right away', async () => {
    const created = weir(['sources', 'create', 'web', '--json'], { env: { WEIR_DATA_DIR: dataDir } });
    assert.equal(created.status, 0, created.stderr);
    const source = JSON.parse(created.stdout);
    const r = await eventually(async () => {
      const res = await post(server, '/v1/track', { event: 'New', userId: 'u', messageId: 'new-source' }, { authorization: basic(source.writeKey) });
      return res.status === 200 ? res : undefined;
    }, 5000, 250);
    assert.equal(r.status, 200);
    const rec = tailAll(dataDir).find((x) => x.event.messageId === 'new-source');
    assert.equal(rec?.sourceId, source.id);
    const list = weir(['sources', 'list', '--json'], { env: { WEIR_DATA_DIR: dataDir } });
    assert.ok(list.stdout.includes(source.writeKey));
  });

  test('weir tail streams events as they arrive, as JSON lines', async () => {
    const child = spawn(process.execPath, [CLI, 'tail', '--limit', '1'], { env: { ...process.env, WEIR_DATA_DIR: dataDir } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => (done = true));
    // tail starts at the end of the log, whenever its process is up (seconds on a loaded
    // machine): keep sending until it has seen one.
    const deadline = Date.now() + 60_000;
    for (let i = 0; !done && Date.now() < deadline; i++) {
      await post(server, '/v1/track', { event: 'Live', userId: 'u', messageId: `live-${i}` }, auth());
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!done) child.kill('SIGKILL');
    assert.ok(done, `weir tail saw no event within a minute: ${out}`);
    assert.equal(await exited, 0);
    const line = JSON.parse(out.trim());
    assert.equal(line.kind, 'event');
    assert.match(line.event.messageId, /^live-\d+$/);
  });
});
