import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { WeirServer, basic, removeDir, tempDir } from '../helpers/weir-process.js';

let server: WeirServer;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  server = await WeirServer.start({ dataDir, workers: 1 });
});
after(async () => {
  await server.stop();
  removeDir(dataDir);
});

interface Case {
  name: string;
  path?: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

function deepArray(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}
function manyKeys(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"k${i}":${i}`);
  return `{${parts.join(',')}}`;
}
const track = (props: string) => `{"type":"track","event":"A","userId":"u","properties":${props}}`;
const batch = (...items: string[]) => `{"batch":[${items.join(',')}]}`;

const cases: Case[] = [
  { name: 'truncated JSON', body: '{"event":', status: 400, code: 'WEIR_INGEST_MALFORMED_JSON' },
  { name: 'trailing garbage', body: '{"event":"A"} x', status: 400, code: 'WEIR_INGEST_MALFORMED_JSON' },
  { name: 'single quotes', body: "{'event':'A'}", status: 400, code: 'WEIR_INGEST_MALFORMED_JSON' },
  { name: 'JSON null', body: 'null', status: 400, code: 'WEIR_INGEST_INVALID_BODY' },
  { name: 'JSON array', body: '[1,2]', status: 400, code: 'WEIR_INGEST_INVALID_BODY' },
  { name: 'JSON string', body: '"hello"', status: 400, code: 'WEIR_INGEST_INVALID_BODY' },
  { name: 'empty body', body: '', status: 400, code: 'WEIR_INGEST_INVALID_BODY' },
  { name: 'batch not an array', path: '/v1/batch', body: '{"batch":{"0":{}}}', status: 400, code: 'WEIR_INGEST_INVALID_BODY' },
  { name: 'invalid UTF-8', body: Buffer.concat([Buffer.from('{"event":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","userId":"u"}')]), status: 400, code: 'WEIR_INGEST_INVALID_UTF8' },
  { name: 'overlong UTF-8 encoding', body: Buffer.concat([Buffer.from('{"event":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","userId":"u"}')]), status: 400, code: 'WEIR_INGEST_INVALID_UTF8' },
  { name: '__proto__ key', body: '{"event":"A","userId":"u","properties":{"__proto__":{"isAdmin":true}}}', status: 400, code: 'WEIR_INGEST_FORBIDDEN_KEY' },
  { name: 'constructor.prototype', body: '{"event":"A","userId":"u","constructor":{"prototype":{"x":1}}}', status: 400, code: 'WEIR_INGEST_FORBIDDEN_KEY' },
  { name: '100k-deep nesting in a batch', path: '/v1/batch', body: batch(track(`{"d":${deepArray(100_000)}}`)), status: 400, code: 'WEIR_INGEST_TOO_DEEP' },
  { name: '100k-deep nesting on track (over the per-event size)', body: track(`{"d":${deepArray(100_000)}}`), status: 413, code: 'WEIR_INGEST_BODY_TOO_LARGE' },
  { name: '100-deep objects', body: track(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`), status: 400, code: 'WEIR_INGEST_TOO_DEEP' },
  { name: '3,000 properties', path: '/v1/batch', body: batch(track(manyKeys(3000))), status: 400, code: 'WEIR_INGEST_TOO_MANY_PROPERTIES' },
  { name: '100k properties', path: '/v1/batch', body: batch(track(manyKeys(100_000))), status: 413, code: 'WEIR_INGEST_BODY_TOO_LARGE' },
  { name: 'oversize single event', body: track(`{"s":"${'x'.repeat(33_000)}"}`), status: 413, code: 'WEIR_INGEST_BODY_TOO_LARGE' },
  { name: 'oversize event inside a batch', path: '/v1/batch', body: batch(track(`{"s":"${'x'.repeat(40_000)}"}`)), status: 413, code: 'WEIR_INGEST_EVENT_TOO_LARGE' },
  { name: 'oversize batch', path: '/v1/batch', body: batch(...Array.from({ length: 30 }, () => track(`{"s":"${'x'.repeat(20_000)}"}`))), status: 413, code: 'WEIR_INGEST_BODY_TOO_LARGE' },
  { name: 'too many batch items', path: '/v1/batch', body: batch(...Array.from({ length: 2600 }, () => '{}')), status: 413, code: 'WEIR_INGEST_TOO_MANY_ITEMS' },
  { name: 'gzip bomb', path: '/v1/batch', body: gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20)), headers: { 'content-encoding': 'gzip' }, status: 413, code: 'WEIR_INGEST_BODY_TOO_LARGE' },
  { name: 'not gzip though it says so', body: '{"event":"A"}', headers: { 'content-encoding': 'gzip' }, status: 400, code: 'WEIR_INGEST_BAD_GZIP' },
  { name: 'unknown content-encoding', body: '{"event":"A"}', headers: { 'content-encoding': 'zstd' }, status: 415, code: 'WEIR_INGEST_UNSUPPORTED_ENCODING' },
  { name: 'form content type', body: 'event=A', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'xml content type', body: '<event/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'multipart content type', body: '--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, code: 'WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'garbage authorization', body: '{"event":"A","userId":"u"}', headers: { authorization: 'Basic !!!notbase64' }, status: 401, code: 'WEIR_AUTH_UNKNOWN_WRITE_KEY' },
];

function send(c: Case): Promise<{ status: number; body: string }> {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${c.path ?? '/v1/track'}`,
      {
        method: 'POST',
        headers: { authorization: basic(server.writeKey), 'content-type': 'application/json', 'content-length': body.length, ...c.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    // The server may answer 413 and close before reading everything.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

for (const c of cases) {
  test(`hostile input: ${c.name} → ${c.status} ${c.code}`, async () => {
    const r = await send(c);
    assert.equal(r.status, c.status, r.body);
    assert.equal(JSON.parse(r.body).code, c.code);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the server keeps serving');
  });
}

test('hostile input: numbers beyond float range become a failed event, not a silent null', async () => {
  const r = await send({ name: '1e400', body: '{"event":"A","userId":"u","properties":{"n":1e400}}', status: 200, code: '' });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).rejected[0].code, 'WEIR_EVENT_NON_FINITE_NUMBER');
});
