import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, WeirError } from './catalogue.js';

test('every code is WEIR_<AREA>_<PROBLEM> with a message and an HTTP status', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^WEIR_[A-Z]+_[A-Z0-9_]+$/, code);
    assert.ok(spec.message.length > 0, code);
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    // Retriable errors are the ones answered with Retry-After.
    if (spec.retriable) assert.ok(spec.status === 503 || spec.status === 429, `${code} is retriable but ${spec.status}`);
  }
});

test('messages render their parameters', () => {
  const err = new WeirError('WEIR_INGEST_BODY_TOO_LARGE', { limit: 512000 });
  assert.equal(err.message, 'request body exceeds 512000 bytes');
  assert.deepEqual(err.toJSON(), { code: 'WEIR_INGEST_BODY_TOO_LARGE', message: 'request body exceeds 512000 bytes' });
});

test('every code the README names exists in the catalogue', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const named = new Set<string>();
  // The answers table: rows that start with a status code. It abbreviates siblings as `_SUFFIX`
  // after a full code on the same line.
  for (const line of readme.split('\n').filter((l) => /^\| `\d{3}/.test(l))) {
    for (const m of line.matchAll(/`(WEIR_[A-Z0-9_]+)`/g)) named.add(m[1]!);
    const full = /`(WEIR_[A-Z]+)_[A-Z0-9_]+`/.exec(line);
    if (!full) continue;
    for (const m of line.matchAll(/`(_[A-Z0-9_]+)`/g)) named.add(`${full[1]}${m[1]}`);
  }
  assert.ok(named.size > 10);
  for (const code of named) assert.ok(code in ERRORS, `README names ${code}, which is not in the catalogue`);
});
