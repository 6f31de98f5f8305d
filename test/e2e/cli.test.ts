import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir, weir } from '../helpers/weir-process.js';

test('a bad environment value stops the start with exit 2, naming the option and the value', () => {
  const dir = tempDir();
  try {
    const r = weir(['up'], { env: { WEIR_DATA_DIR: dir, WEIR_SERVER_PORT: 'eighty' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /WEIR_CONFIG_INVALID/);
    assert.match(r.stderr, /server\.port/);
    assert.match(r.stderr, /WEIR_SERVER_PORT/);
    assert.match(r.stderr, /eighty/);
  } finally {
    removeDir(dir);
  }
});

test('a bad weir.yaml value or unknown option stops the start with exit 2', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'weir.yaml'), 'limits:\n  maxEventBytes: -5\nserver:\n  prot: 80\n');
    const r = weir(['up'], { cwd: dir, env: { WEIR_DATA_DIR: join(dir, 'data') } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /limits\.maxEventBytes/);
    assert.match(r.stderr, /-5/);
    assert.match(r.stderr, /server\.prot/);
    const missing = weir(['up', '--config', join(dir, 'nope.yaml')], { env: { WEIR_DATA_DIR: dir } });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /WEIR_CONFIG_FILE_UNREADABLE/);
  } finally {
    removeDir(dir);
  }
});

test('bad CLI option values exit 2 with the option named', () => {
  const dir = tempDir();
  try {
    const env = { WEIR_DATA_DIR: dir };
    const limit = weir(['failed', 'list', '--limit', 'many'], { env });
    assert.equal(limit.status, 2);
    assert.match(limit.stderr, /--limit/);
    assert.match(limit.stderr, /many/);
    const tail = weir(['tail', '--limit', '0'], { env });
    assert.equal(tail.status, 2);
    assert.match(tail.stderr, /--limit/);
    const unknown = weir(['frobnicate'], { env });
    assert.equal(unknown.status, 2);
  } finally {
    removeDir(dir);
  }
});

test('sources create and list work before the server ever ran', () => {
  const dir = tempDir();
  try {
    const env = { WEIR_DATA_DIR: dir };
    const created = weir(['sources', 'create', 'ios', '--json'], { env });
    assert.equal(created.status, 0, created.stderr);
    const source = JSON.parse(created.stdout);
    assert.equal(source.name, 'ios');
    const list = weir(['sources', 'list'], { env });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /ios/);
    assert.ok(list.stdout.includes(source.writeKey));
    const dup = weir(['sources', 'create', 'ios'], { env });
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /WEIR_SOURCE_NAME_TAKEN/);
  } finally {
    removeDir(dir);
  }
});
