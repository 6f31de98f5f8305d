import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { hashPassword, verifyPassword } from './passwords.js';

test('hashes with scrypt, a random salt and the parameters stored alongside', async () => {
  const a = await hashPassword('correct horse battery staple');
  const b = await hashPassword('correct horse battery staple');
  assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse battery staple', a), true);
  assert.equal(await verifyPassword('correct horse battery stapler', a), false);
  assert.equal(await verifyPassword('', a), false);
  assert.equal(await verifyPassword('x', 'md5$whatever'), false);
});

test('verifies hashes made with other parameters (they travel with the hash)', async () => {
  // The same password under cheaper parameters, as an older release might have stored it.
  const salt = randomBytes(16);
  const key = scryptSync('pw-123456789012', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  const older = `scrypt$16384$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
  assert.equal(await verifyPassword('pw-123456789012', older), true);
  assert.equal(await verifyPassword('pw-123456789013', older), false);
  // Relabelled parameters change the derived key.
  assert.equal(await verifyPassword('pw-123456789012', older.replace('$16384$', '$32768$')), false);
});

test('an unknown user costs as much time as a wrong password', async () => {
  const stored = await hashPassword('the-real-password');
  await verifyPassword('warm-up', undefined);
  const time = async (fn: () => Promise<boolean>) => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      assert.equal(await fn(), false);
      samples.push(Number(process.hrtime.bigint() - t));
    }
    return samples.sort((x, y) => x - y)[2]!;
  };
  const wrong = await time(() => verifyPassword('a-wrong-password', stored));
  const unknown = await time(() => verifyPassword('a-wrong-password', undefined));
  // Both derive one scrypt key; a missing hash that skipped it would be ~1000× faster.
  assert.ok(unknown > wrong / 3, `unknown ${unknown} ns vs wrong ${wrong} ns`);
});
