import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ERRORS } from '../../src/errors/catalogue.js';
import { weirChildren, type WeirChild } from '../helpers/process-tree.js';
import { WeirServer, basic, removeDir, tailAll, tempDir } from '../helpers/weir-process.js';
import { FULL, report } from './size.js';

/**
 * Property-based fuzzing of the ingest API of a real `weir up`: batches that mix valid events
 * with arbitrary JSON, and byte-level mutations of valid batches. Whatever is sent: never a 5xx,
 * never a crash (the same processes at the end), every 4xx carries a code from the catalogue, and
 * every valid event of a batch answered 200 is in the log.
 */
const RUNS = Number(process.env.WEIR_FUZZ_RUNS ?? (FULL ? 3000 : 300));

let server: WeirServer;
let dataDir: string;
let pids: WeirChild[];
/** messageIds of valid events in batches answered 200. */
const mustBeInLog = new Set<string>();
const statuses = new Map<number, number>();
let nextId = 0;

before(async () => {
  dataDir = tempDir('weir-fuzz-');
  server = await WeirServer.start({ dataDir, workers: 1 });
  pids = weirChildren(server.child.pid!);
});
after(async () => {
  await server.stop();
  removeDir(dataDir);
});

interface Answer {
  status: number;
  body: { code?: string; rejected?: Array<{ code: string; messageId?: string; index?: number }> };
}

async function send(body: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(server.writeKey), 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  let parsed: Answer['body'] = {};
  try {
    parsed = JSON.parse(text) as Answer['body'];
  } catch {
    // checked below: every 4xx must be JSON with a code
  }
  return { status: res.status, body: parsed };
}

/** The properties every answer has, whatever was sent. */
function checkAnswer(a: Answer): void {
  assert.ok(a.status < 500, `never a 5xx (got ${a.status} ${JSON.stringify(a.body)})`);
  if (a.status >= 400) assert.ok(a.body.code !== undefined && a.body.code in ERRORS, `a 4xx carries a catalogued code (got ${a.status} ${JSON.stringify(a.body)})`);
  else assert.equal(a.status, 200);
  for (const r of a.body.rejected ?? []) assert.ok(r.code in ERRORS, `rejected items carry a catalogued code (${r.code})`);
}

/** Flat properties no limit refuses: short keys (never a prototype key), scalar values. */
const properties = fc.dictionary(
  fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__' && k !== 'constructor' && k !== 'prototype'),
  fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
  { maxKeys: 20 },
);
const validEvent = properties.map((p) => ({ type: 'track', event: 'Fuzz', userId: 'u', messageId: `fuzz-${nextId++}`, properties: p }));
/** Arbitrary JSON, often nothing like an event. */
const junk = fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.record({ type: fc.string({ maxLength: 8 }), event: fc.jsonValue({ maxDepth: 2 }), userId: fc.jsonValue({ maxDepth: 1 }) }));
const item = fc.oneof({ weight: 2, arbitrary: validEvent.map((e) => ({ valid: true as const, e })) }, { weight: 1, arbitrary: junk.map((e) => ({ valid: false as const, e })) });

test(`fuzz: ${RUNS} batches of valid events mixed with arbitrary JSON`, { timeout: 1_800_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(item, { maxLength: 30 }), async (items) => {
      const a = await send(JSON.stringify({ batch: items.map((i) => i.e) }));
      checkAnswer(a);
      if (a.status !== 200) return;
      const rejected = new Set((a.body.rejected ?? []).map((r) => r.index));
      items.forEach((it, index) => {
        if (!it.valid) return;
        assert.ok(!rejected.has(index), `valid event ${index} was rejected: ${JSON.stringify(a.body.rejected)}`);
        mustBeInLog.add((it.e as { messageId: string }).messageId);
      });
    }),
    { numRuns: RUNS },
  );
});

/** One byte-level edit of a valid body. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(body: Buffer, m: { kind: string; at: number; bit?: number; bytes?: Uint8Array; length?: number }): Buffer {
  const at = body.length === 0 ? 0 : m.at % body.length;
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(body);
      out[at]! ^= 1 << m.bit!;
      return out;
    }
    case 'insert':
      return Buffer.concat([body.subarray(0, at), Buffer.from(m.bytes!), body.subarray(at)]);
    case 'delete':
      return Buffer.concat([body.subarray(0, at), body.subarray(at + m.length!)]);
    case 'truncate':
      return body.subarray(0, at);
    default:
      return Buffer.concat([body.subarray(0, at + m.length!), body.subarray(at)]);
  }
}

test(`fuzz: ${RUNS} byte-level mutations of valid batches`, { timeout: 1_800_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(validEvent, { minLength: 1, maxLength: 10 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), async (events, mutations, gzip) => {
      let body: Buffer = Buffer.from(JSON.stringify({ batch: events }));
      for (const m of mutations) body = mutate(body, m);
      // Half are sent gzip'd: mutations before compression reach the JSON parser, not only the inflater.
      const a = gzip ? await send(gzipSync(body), { 'content-encoding': 'gzip' }) : await send(body);
      checkAnswer(a);
    }),
    { numRuns: RUNS },
  );
});

test('fuzz: no process crashed, and every valid event answered 200 is in the log', async () => {
  assert.deepEqual(weirChildren(server.child.pid!), pids, 'the same collector and sinks processes');
  const inLog = new Set(tailAll(dataDir).map((r) => r.event.messageId as string));
  const lost = [...mustBeInLog].filter((id) => !inLog.has(id));
  report('fuzz', { runs: RUNS, validEventsAcked: mustBeInLog.size, statuses: Object.fromEntries(statuses) });
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${mustBeInLog.size} acknowledged valid events missing from the log`);
  assert.ok(mustBeInLog.size > RUNS, 'valid events were acknowledged');
});
