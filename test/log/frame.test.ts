import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crcMatches, encodeFrames, frameLength, frameOffset, hasMagic, HEADER_BYTES } from '../../src/log/file/frame.js';
import { decodeHead, encodeHead } from '../../src/log/file/head.js';

describe('log frames', () => {
  it('encodes records with consecutive offsets, including offsets beyond 32 bits', () => {
    const records = [Buffer.from('{"a":1}'), Buffer.alloc(0), Buffer.from('xyz')];
    const first = 2 ** 40 + 5;
    const buf = encodeFrames(records, first);
    assert.equal(buf.length, records.reduce((n, r) => n + HEADER_BYTES + r.length, 0));
    let pos = 0;
    records.forEach((r, i) => {
      assert.ok(hasMagic(buf, pos));
      assert.equal(frameLength(buf, pos), r.length);
      assert.equal(frameOffset(buf, pos), first + i);
      assert.ok(crcMatches(buf, pos, r.length));
      assert.ok(buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + r.length).equals(r));
      pos += HEADER_BYTES + r.length;
    });
  });

  it('detects a flipped bit anywhere after the magic', () => {
    const buf = encodeFrames([Buffer.from('{"event":"signup"}')], 7);
    for (let byte = 4; byte < buf.length; byte++) {
      const copy = Buffer.from(buf);
      copy[byte]! ^= 0x04;
      const len = frameLength(copy, 0);
      const intact = len === frameLength(buf, 0) && crcMatches(copy, 0, len);
      assert.ok(!intact, `flip at byte ${byte} undetected`);
    }
  });

  it('never uses bytes that occur in UTF-8 text as its magic', () => {
    const buf = encodeFrames([Buffer.from('x')], 0);
    assert.ok(buf.subarray(0, 4).includes(0xfe) && buf.subarray(0, 4).includes(0xff));
  });

  it('round-trips the durable head and rejects a torn one', () => {
    const head = { segmentBase: 2 ** 33, segmentLength: 12345, nextOffset: 2 ** 33 + 99 };
    const buf = encodeHead(head);
    assert.deepEqual(decodeHead(buf), head);
    const torn = Buffer.from(buf);
    torn[20]! ^= 0x01;
    assert.equal(decodeHead(torn), undefined);
    assert.equal(decodeHead(Buffer.alloc(32)), undefined);
  });
});
