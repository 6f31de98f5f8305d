import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { bodyParts, partedPut, type BodyPart, type MultipartUpload } from './body-parts.js';

async function partsOf(body: Readable | Buffer, partSize: number): Promise<BodyPart[]> {
  const out: BodyPart[] = [];
  for await (const p of bodyParts(body, partSize)) out.push({ ...p, data: Buffer.from(p.data) });
  return out;
}

describe('bodyParts', () => {
  it('cuts any chunking into full parts and one last part, losing and adding nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 12 }), fc.integer({ min: 1, max: 33 }), async (sizes, partSize) => {
        let next = 0;
        const chunks = sizes.map((n) => Buffer.from(Array.from({ length: n }, () => next++ % 251)));
        const whole = Buffer.concat(chunks);
        const parts = await partsOf(Readable.from(chunks), partSize);
        assert.equal(parts.length, Math.max(1, Math.ceil(whole.length / partSize)));
        assert.deepEqual(Buffer.concat(parts.map((p) => p.data)), whole);
        parts.forEach((p, i) => {
          assert.equal(p.index, i);
          assert.equal(p.last, i === parts.length - 1);
          if (!p.last) assert.equal(p.data.length, partSize);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a Buffer body is sliced without copying', async () => {
    const body = Buffer.from('abcdefghij');
    const parts: BodyPart[] = [];
    for await (const p of bodyParts(body, 4)) parts.push(p);
    assert.deepEqual(parts.map((p) => [p.data.toString(), p.last]), [['abcd', false], ['efgh', false], ['ij', true]]);
    assert.equal(parts[0]!.data.buffer, body.buffer);
  });
});

/** A multipart upload whose parts finish only when the test says so. */
function controlledUpload(opts: { failPart?: number } = {}) {
  const events: string[] = [];
  const pending: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const upload: MultipartUpload<string> = {
    part: (p) =>
      new Promise<string>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        events.push(`part ${p.index}`);
        pending.push(() => {
          inFlight--;
          if (p.index === opts.failPart) reject(new Error(`part ${p.index} failed`));
          else resolve(`etag-${p.index}`);
        });
        // Finish parts out of order: newest first, once two are waiting.
        if (pending.length >= 2) pending.splice(-1)[0]!();
        else setImmediate(() => pending.shift()?.());
      }),
    complete: async (results) => void events.push(`complete ${results.join(',')}`),
    abort: async () => void events.push(`abort (in flight ${inFlight})`),
  };
  return { upload, events, maxInFlight: () => maxInFlight };
}

describe('partedPut', () => {
  const mapped = (err: unknown) => new Error(`service: ${(err as Error).message}`);

  it('a body that fits one part goes up in one request', async () => {
    const sent: string[] = [];
    const size = await partedPut(Readable.from([Buffer.from('abc'), Buffer.from('de')]), { partSize: 5, concurrency: 2 }, async (d) => void sent.push(d.toString()), () => assert.fail('no multipart'), mapped);
    assert.equal(size, 5);
    assert.deepEqual(sent, ['abcde']);
  });

  it('a larger body is uploaded with at most `concurrency` parts in flight and completed in part order', async () => {
    const u = controlledUpload();
    const size = await partedPut(Buffer.alloc(45), { partSize: 10, concurrency: 2 }, () => assert.fail('not single'), async () => u.upload, mapped);
    assert.equal(size, 45);
    assert.equal(u.maxInFlight(), 2);
    assert.equal(u.events.at(-1), 'complete etag-0,etag-1,etag-2,etag-3,etag-4');
  });

  it('a failed part aborts the upload after the parts in flight settle, with the mapped error', async () => {
    const u = controlledUpload({ failPart: 1 });
    await assert.rejects(partedPut(Buffer.alloc(100), { partSize: 10, concurrency: 3 }, async () => {}, async () => u.upload, mapped), /service: part 1 failed/);
    assert.equal(u.events.at(-1), 'abort (in flight 0)');
    assert.ok(!u.events.some((e) => e.startsWith('complete')));
    assert.ok(u.events.filter((e) => e.startsWith('part')).length < 10, 'stops reading the body');
  });

  it("the body's own error reaches the caller unchanged and aborts the upload", async () => {
    const u = controlledUpload();
    const boom = new Error('source broke');
    const body = new Readable({ read() {} });
    body.push(Buffer.alloc(25));
    setImmediate(() => body.destroy(boom));
    await assert.rejects(partedPut(body, { partSize: 10, concurrency: 2 }, async () => {}, async () => u.upload, mapped), (err) => err === boom);
    assert.equal(u.events.at(-1), 'abort (in flight 0)');
  });

  it('a signal aborted mid-body ends the put with AbortError and aborts the upload', async () => {
    const u = controlledUpload();
    const ctl = new AbortController();
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 10;
        if (sent > 30) ctl.abort();
        this.push(Buffer.alloc(10));
      },
    });
    await assert.rejects(partedPut(body, { partSize: 10, concurrency: 2, signal: ctl.signal }, async () => {}, async () => u.upload, mapped), { name: 'AbortError' });
    assert.equal(u.events.at(-1), 'abort (in flight 0)');
    assert.ok(body.destroyed);
  });
});
