import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from 'maxmind';
import { Uint, encodeValue, writeMmdb, type MmdbValue } from './mmdb-writer.js';

function roundTrip(data: MmdbValue): unknown {
  const reader = new Reader(writeMmdb({ databaseType: 'Weir-Test', networks: [{ network: '192.0.2.0/24', data }] }));
  return reader.get('192.0.2.1');
}

describe('mmdb writer', () => {
  it('encodes every size class of the control byte (under 29, 29+, 285+, 65821+)', () => {
    for (const length of [0, 28, 29, 284, 285, 65_820, 65_821, 70_000]) {
      const s = 'é'.repeat(length >> 1) + 'x'.repeat(length & 1);
      assert.deepEqual(roundTrip({ s }), { s }, `length ${length}`);
    }
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(roundTrip(wide), wide);
    const long = Array.from({ length: 40 }, (_, i) => i * 1000);
    assert.deepEqual(roundTrip(long), long);
  });

  it('encodes numbers, booleans, nested maps and arrays as the reader decodes them', () => {
    const data: MmdbValue = {
      zero: 0,
      uint32: 4_294_967_295,
      double: -12.5,
      big: 2n ** 40n,
      u16: new Uint(16, 65_535),
      yes: true,
      no: false,
      nested: { list: [{ a: 'b' }, [1, 2]], empty: {} },
    };
    assert.deepEqual(roundTrip(data), {
      zero: 0,
      uint32: 4_294_967_295,
      double: -12.5,
      big: 2n ** 40n,
      u16: 65_535,
      yes: true,
      no: false,
      nested: { list: [{ a: 'b' }, [1, 2]], empty: {} },
    });
    assert.throws(() => encodeValue(new Uint(16, 65_536)), RangeError);
  });

  it('shares one data record among networks with the same data, and reports absent networks', () => {
    const data = { country: { iso_code: 'DE' } };
    const reader = new Reader(
      writeMmdb({
        databaseType: 'Weir-Test',
        networks: [
          { network: '198.51.100.0/24', data },
          { network: '203.0.113.0/25', data },
          { network: '2001:db8::/32', data },
        ],
      }),
    );
    assert.deepEqual(reader.get('198.51.100.200'), data);
    assert.deepEqual(reader.get('203.0.113.127'), data);
    assert.equal(reader.get('203.0.113.128'), null);
    assert.deepEqual(reader.get('2001:db8:ffff::1'), data);
    assert.equal(reader.get('2001:db9::1'), null);
  });
});
