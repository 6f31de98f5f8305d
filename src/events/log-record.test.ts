import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLogRecord, encodeAcceptedRecord, encodeFailedRecord, peekEnvelope } from './log-record.js';

const AT = '2026-11-22T10:00:01.037Z';

test('peekEnvelope reads an accepted record written by encodeAcceptedRecord, with or without deferred steps', () => {
  const event = { type: 'track', event: 'A', messageId: 'm1', receivedAt: AT, properties: { receivedAt: 'not this one' } };
  for (const deferred of [undefined, ['userAgent', 'referrer']]) {
    const record = encodeAcceptedRecord('src_1', event, undefined, deferred);
    assert.deepEqual(peekEnvelope(record), { kind: 'event', sourceId: 'src_1', receivedAt: AT });
    // The envelope's copy changes nothing decoders see.
    assert.deepEqual(decodeLogRecord(record, { enrich: false }), { kind: 'event', sourceId: 'src_1', event });
  }
});

test('peekEnvelope decodes in full what it cannot read from the front: older records, escapes, failed events', () => {
  // Written before the envelope carried receivedAt.
  const older = Buffer.from(JSON.stringify({ kind: 'event', sourceId: 'src_1', event: { type: 'track', messageId: 'm', receivedAt: AT } }));
  assert.deepEqual(peekEnvelope(older), { kind: 'event', sourceId: 'src_1', receivedAt: AT });
  // A source id that needs escaping is read through JSON.parse, never as raw bytes.
  for (const sourceId of ['src"x', 'src\\x', 'src_ü', 'src\u2028']) {
    const record = encodeAcceptedRecord(sourceId, { type: 'track', messageId: 'm', receivedAt: AT });
    assert.deepEqual(peekEnvelope(record), { kind: 'event', sourceId, receivedAt: AT }, sourceId);
  }
  const failed = encodeFailedRecord({ sourceId: 'src_2', reason: 'WEIR_EVENT_BOT', message: 'bot', messageId: null, receivedAt: AT, payload: {} });
  assert.deepEqual(peekEnvelope(failed), { kind: 'failed', sourceId: 'src_2', receivedAt: AT });
  // An event without a receive time (never written by the collector) has none in its envelope.
  assert.deepEqual(peekEnvelope(encodeAcceptedRecord('src_3', { type: 'track', messageId: 'm' })), { kind: 'event', sourceId: 'src_3', receivedAt: undefined });
});
