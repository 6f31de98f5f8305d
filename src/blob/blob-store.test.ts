import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../errors/catalogue.js';
import { checkRange, compareKeys, isValidKey, validateKey } from './blob-store.js';

describe('validateKey', () => {
  it('accepts Hive-style and otherwise normal relative paths', () => {
    for (const key of [
      'source=src_1/date=2026-11-22/hour=14/00000-00099.parquet',
      'a',
      '.hidden/x',
      'x/.tmp',
      'ünïcødé/日本/😀',
      "a b+c%2Fd&e=f;g,h@i$j(k)[l]~'!#?",
      `${'x'.repeat(255)}/y`,
      `${'ab/'.repeat(340)}abcd`,
    ]) {
      assert.equal(validateKey(key), key, key);
    }
  });

  it('refuses what is not portable between a directory, S3 and Azure, naming the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /non-empty/],
      ['/etc/passwd', /relative/],
      ['a/../b', /\.\. segments/],
      ['..', /\.\. segments/],
      ['./a', /\. or \.\. segments/],
      ['a\\b', /backslash/],
      ['a\0b', /control/],
      ['a\nb', /control/],
      ['a//b', /empty segments/],
      ['a/', /empty segments/],
      ['.tmp/x', /reserved/],
      ['.tmp', /reserved/],
      [`${'x'.repeat(256)}`, /255 bytes/],
      [`${'é'.repeat(128)}`, /255 bytes/],
      [`${'ab/'.repeat(341)}ab`, /1024 bytes/],
      ['a\uDC00', /valid Unicode/],
    ];
    for (const [key, reason] of cases) {
      assert.throws(
        () => validateKey(key),
        (err: unknown) => {
          assert.ok(err instanceof WeirError && err.code === 'WEIR_BLOB_INVALID_KEY' && err.status === 400, String(err));
          assert.match(err.message, reason, JSON.stringify(key));
          assert.doesNotMatch(err.message, /\0|\n/);
          return true;
        },
        JSON.stringify(key),
      );
      assert.equal(isValidKey(key), false);
    }
  });
});

describe('compareKeys', () => {
  it('orders by UTF-8 bytes, as S3 lists: characters beyond U+FFFF after U+FFFD, / after - and .', () => {
    const keys = ['x\u{1F600}', 'x\uFFFD', 'a/b', 'a-c', 'a.b', 'a0', 'Z', 'a'];
    assert.deepEqual([...keys].sort(compareKeys), ['Z', 'a', 'a-c', 'a.b', 'a/b', 'a0', 'x\uFFFD', 'x\u{1F600}']);
    // Plain string comparison (UTF-16 code units) would put the emoji first.
    assert.ok('x\u{1F600}' < 'x\uFFFD');
  });
});

describe('checkRange', () => {
  it('passes whole-object and real ranges, flags empty ones and refuses malformed ones', () => {
    assert.equal(checkRange(undefined), undefined);
    assert.deepEqual(checkRange({ offset: 3 }), { offset: 3 });
    assert.deepEqual(checkRange({ offset: 3, length: 4 }), { offset: 3, length: 4 });
    assert.equal(checkRange({ offset: 9, length: 0 }), 'empty');
    for (const bad of [{ offset: -1 }, { offset: 1.5 }, { offset: 0, length: -2 }, { offset: Number.NaN }]) {
      assert.throws(() => checkRange(bad), RangeError, JSON.stringify(bad));
    }
  });
});
