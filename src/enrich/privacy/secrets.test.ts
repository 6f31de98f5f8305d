import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DailySalts, cookielessId, loadSecret } from './secrets.js';

test('the secret is created once, private to its owner, and read back by every process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-secret-'));
  try {
    const a = loadSecret(dir);
    assert.equal(a.length, 32);
    assert.deepEqual(loadSecret(dir), a);
    assert.equal(statSync(join(dir, 'secret')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cookieless ids: stable within a day, unlinkable across days, and old salts are deleted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-salts-'));
  try {
    const salts = new DailySalts(dir);
    const day1 = new Date('2026-11-20T10:00:00Z');
    const id1 = cookielessId(salts.today(day1), 'src', '203.0.113.9', 'UA');
    assert.match(id1, /^cl_[0-9a-f]{32}$/);
    // Another process on the same day derives the same id.
    assert.equal(cookielessId(new DailySalts(dir).today(new Date('2026-11-20T23:59:00Z')), 'src', '203.0.113.9', 'UA'), id1);
    assert.notEqual(cookielessId(salts.today(day1), 'src', '203.0.113.10', 'UA'), id1);
    assert.notEqual(cookielessId(salts.today(day1), 'other', '203.0.113.9', 'UA'), id1);
    const id2 = cookielessId(salts.today(new Date('2026-11-21T10:00:00Z')), 'src', '203.0.113.9', 'UA');
    assert.notEqual(id2, id1);
    salts.today(new Date('2026-11-22T10:00:00Z'));
    assert.deepEqual(readdirSync(join(dir, 'salts')).sort(), ['2026-11-21', '2026-11-22']);
    assert.equal(existsSync(join(dir, 'salts', '2026-11-20')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
