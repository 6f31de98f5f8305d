import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { processIngest } from './ingest.js';
import { decodeJsonBody } from './body.js';
import { decodeLogRecord } from '../events/log-record.js';
import { WeirError } from '../errors/catalogue.js';

const limits = { maxDepth: 16, maxProperties: 200, maxEventBytes: 2048, maxBatchItems: 10 };
const facts = { receivedAt: new Date('2024-01-01T00:00:00Z') };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof WeirError) return err.code;
    throw err;
  }
  return 'no error';
}

test('a batch keeps good items and turns bad ones into failed events, in order', () => {
  const out = processIngest(
    'batch',
    {
      batch: [
        { type: 'track', event: 'A', userId: 'u', messageId: 'm1' },
        { type: 'track', userId: 'u', messageId: 'm2' },
        { type: 'identify', anonymousId: 'a' },
      ],
      context: { library: { name: 'x' } },
    },
    'src_1',
    facts,
    limits,
  );
  assert.equal(out.accepted, 2);
  assert.deepEqual(out.rejected.map((r) => [r.index, r.code]), [[1, 'WEIR_EVENT_MISSING_EVENT_NAME']]);
  assert.equal(out.records.length, 2);
  // The third item had no messageId: the one generated for it is its id.
  const generated = decodeLogRecord(out.records[1]!);
  assert.deepEqual(out.ids, ['src_1/m1', `src_1/${generated.kind === 'event' ? String(generated.event.messageId) : ''}`]);
  assert.equal(out.failed.length, 1);
  const [a, c] = out.records.map((r) => decodeLogRecord(r));
  const b = decodeLogRecord(out.failed[0]!);
  assert.equal(a!.kind, 'event');
  assert.equal(a!.kind === 'event' && a!.event.messageId, 'm1');
  assert.deepEqual(a!.kind === 'event' && a!.event.context, { library: { name: 'x' } });
  assert.equal(b!.kind === 'failed' && b!.reason, 'WEIR_EVENT_MISSING_EVENT_NAME');
  assert.deepEqual(b!.kind === 'failed' && b!.payload, { type: 'track', userId: 'u', messageId: 'm2' });
  assert.equal(c!.kind === 'event' && c!.event.type, 'identify');
});

test('single endpoints set the type from the path', () => {
  const out = processIngest('page', { type: 'track', anonymousId: 'a', name: 'Home' }, 's', facts, limits);
  const rec = decodeLogRecord(out.records[0]!);
  assert.equal(rec.kind === 'event' && rec.event.type, 'page');
});

test('request-level limits refuse the whole request', () => {
  const deep = JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`);
  assert.equal(code(() => processIngest('batch', { batch: {} }, 's', facts, limits)), 'WEIR_INGEST_INVALID_BODY');
  assert.equal(code(() => processIngest('batch', [], 's', facts, limits)), 'WEIR_INGEST_INVALID_BODY');
  assert.equal(code(() => processIngest('batch', { batch: new Array(11).fill({}) }, 's', facts, limits)), 'WEIR_INGEST_TOO_MANY_ITEMS');
  assert.equal(code(() => processIngest('track', { event: 'A', userId: 'u', properties: { d: deep } }, 's', facts, limits)), 'WEIR_INGEST_TOO_DEEP');
  assert.equal(
    code(() => processIngest('track', { event: 'A', userId: 'u', properties: { s: 'x'.repeat(3000) } }, 's', facts, limits)),
    'WEIR_INGEST_EVENT_TOO_LARGE',
  );
  assert.equal(
    code(() => processIngest('track', JSON.parse('{"event":"A","userId":"u","properties":{"__proto__":{"admin":true}}}'), 's', facts, limits)),
    'WEIR_INGEST_FORBIDDEN_KEY',
  );
});

test('decodeJsonBody: media types, gzip, bombs, UTF-8 and JSON errors', () => {
  const h = (contentType?: string, contentEncoding?: string) => ({ contentType, contentEncoding });
  assert.deepEqual(decodeJsonBody(Buffer.from('{"a":1}'), h('application/json; charset=utf-8'), 100), { a: 1 });
  assert.deepEqual(decodeJsonBody(Buffer.from('{"a":1}'), h('text/plain'), 100), { a: 1 });
  assert.deepEqual(decodeJsonBody(gzipSync('{"a":2}'), h('application/json', 'gzip'), 100), { a: 2 });
  assert.deepEqual(decodeJsonBody(Buffer.from('\ufeff{"a":3}'), h(), 100), { a: 3 });
  assert.equal(code(() => decodeJsonBody(Buffer.from('a=1'), h('application/x-www-form-urlencoded'), 100)), 'WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE');
  assert.equal(code(() => decodeJsonBody(Buffer.from('{}'), h('application/json', 'br'), 100)), 'WEIR_INGEST_UNSUPPORTED_ENCODING');
  assert.equal(code(() => decodeJsonBody(Buffer.from('not gzip'), h('application/json', 'gzip'), 100)), 'WEIR_INGEST_BAD_GZIP');
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
  assert.ok(bomb.length < 100_000);
  assert.equal(code(() => decodeJsonBody(bomb, h('application/json', 'gzip'), 500 * 1024)), 'WEIR_INGEST_BODY_TOO_LARGE');
  assert.equal(code(() => decodeJsonBody(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), h(), 100)), 'WEIR_INGEST_INVALID_UTF8');
  assert.equal(code(() => decodeJsonBody(Buffer.from('{"a":'), h(), 100)), 'WEIR_INGEST_MALFORMED_JSON');
  assert.equal(code(() => decodeJsonBody(Buffer.alloc(0), h(), 100)), 'WEIR_INGEST_INVALID_BODY');
});

test('flags land on every accepted event as context.weir, leaving the received item as it was', () => {
  const item = { type: 'track', event: 'A', userId: 'u', context: { locale: 'de' } };
  const out = processIngest('batch', { batch: [item, { type: 'page', anonymousId: 'a' }, { type: 'track', userId: 'u' }] }, 'src_1', facts, limits, {
    overQuota: true,
  });
  assert.equal(out.accepted, 2);
  const contexts = out.records.map((r) => {
    const d = decodeLogRecord(r);
    return d.kind === 'event' ? d.event.context : undefined;
  });
  assert.deepEqual(contexts, [{ locale: 'de', weir: { overQuota: true } }, { weir: { overQuota: true } }]);
  assert.deepEqual(item.context, { locale: 'de' });
  const failed = decodeLogRecord(out.failed[0]!);
  assert.equal(failed.kind === 'failed' && JSON.stringify(failed.payload).includes('weir'), false, 'failed items keep what was sent');
  const plain = processIngest('track', { event: 'A', userId: 'u' }, 'src_1', facts, limits);
  const d = decodeLogRecord(plain.records[0]!);
  assert.equal(d.kind === 'event' && 'context' in d.event, false);
});
