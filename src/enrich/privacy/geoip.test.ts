import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { open, type CityResponse } from 'maxmind';
import { WeirError } from '../../errors/catalogue.js';
import { enrichLocation, geoIpReaderFrom, openGeoIp, type GeoIpReader } from './geoip.js';
import { CITY_NETWORKS, useCityDatabase } from '../../../test/helpers/geoip-fixture.js';
import { writeMmdb } from '../../../test/helpers/mmdb-writer.js';

describe('GeoIP', () => {
  const db = useCityDatabase();
  let geoip: GeoIpReader;
  before(() => {
    geoip = db().geoip;
  });

  it('the test database reads back with the maxmind Reader, record for record', async () => {
    const reader = await open<CityResponse>(db().path);
    assert.equal(reader.metadata.databaseType, 'GeoLite2-City');
    assert.equal(reader.metadata.ipVersion, 6);
    assert.equal(reader.metadata.recordSize, 24);
    assert.deepEqual(reader.metadata.languages, ['en']);
    assert.equal(reader.metadata.binaryFormatMajorVersion, 2);
    assert.equal(reader.metadata.buildEpoch.toISOString(), '2026-01-01T00:00:00.000Z');
    const byNetwork = new Map(CITY_NETWORKS.map((n) => [n.network, n.data]));
    assert.deepEqual(reader.get('81.2.69.160'), byNetwork.get('81.2.69.0/24'));
    assert.deepEqual(reader.getWithPrefixLength('81.2.69.1'), [byNetwork.get('81.2.69.0/24'), 24]);
    assert.deepEqual(reader.getWithPrefixLength('2001:218::1'), [byNetwork.get('2001:218::/32'), 32]);
    assert.deepEqual(reader.get('89.160.20.127'), byNetwork.get('89.160.20.112/28'));
    assert.equal(reader.get('89.160.20.128'), null, 'just outside the /28');
    assert.deepEqual(reader.get('175.16.199.3'), byNetwork.get('175.16.199.0/24'), 'the narrower network inside the /16');
    assert.deepEqual(reader.get('175.16.1.1'), byNetwork.get('175.16.0.0/16'));
    assert.deepEqual(reader.get('2001:218:1234::1'), byNetwork.get('2001:218::/32'));
    assert.deepEqual(reader.get('2a02:cf47:ffff::1'), byNetwork.get('2a02:cf40::/29'));
    assert.equal(reader.get('2a02:cf48::1'), null);
    assert.equal(reader.get('8.8.8.8'), null);
    assert.equal(reader.get('127.0.0.1'), null);
  });

  it('looks up country, first subdivision and city in English', () => {
    assert.equal(geoip.databaseType, 'GeoLite2-City');
    assert.deepEqual(geoip.lookup('81.2.69.160'), { country: 'GB', region: 'England', city: 'London' });
    assert.deepEqual(geoip.lookup('89.160.20.115'), { country: 'SE', region: 'Östergötland County', city: 'Linköping' });
    assert.deepEqual(geoip.lookup('216.160.83.60'), { country: 'US', region: 'Washington', city: 'Milton' });
    assert.deepEqual(geoip.lookup('175.16.1.1'), { country: 'CN' });
    assert.deepEqual(geoip.lookup('2a02:cf40::1'), { country: 'NO', region: 'Viken', city: 'Oslo' });
    assert.deepEqual(geoip.lookup('202.196.224.9'), { country: 'PH', region: '00' }, 'a subdivision with an ISO code only');
    assert.deepEqual(geoip.lookup('67.43.156.1'), { country: 'BT' }, 'registered country when there is no country');
  });

  it('handles IPv4-mapped IPv6, zones, unknown and invalid addresses', () => {
    assert.deepEqual(geoip.lookup('::ffff:81.2.69.160'), { country: 'GB', region: 'England', city: 'London' });
    assert.deepEqual(geoip.lookup('2001:218::1%eth0'), { country: 'JP' });
    for (const ip of ['8.8.8.8', '10.0.0.1', '::1', 'not-an-ip', '999.1.1.1', '']) assert.equal(geoip.lookup(ip), null, ip);
  });

  it('enrichLocation fills context.location from the full address, keeping client fields', () => {
    const context: Record<string, unknown> = { ip: '81.2.69.160' };
    enrichLocation(context, geoip);
    assert.deepEqual(context.location, { country: 'GB', region: 'England', city: 'London' });
    const own: Record<string, unknown> = { ip: '81.2.69.160', location: { city: 'Westminster', latitude: 51.5 } };
    enrichLocation(own, geoip);
    assert.deepEqual(own.location, { country: 'GB', region: 'England', city: 'Westminster', latitude: 51.5 });
    const none: Record<string, unknown> = { ip: '8.8.8.8' };
    enrichLocation(none, geoip);
    assert.deepEqual(none, { ip: '8.8.8.8' });
  });

  it('caches per address', async () => {
    let calls = 0;
    const reader = await open<CityResponse>(db().path);
    const counting = Object.assign(Object.create(reader) as typeof reader, {
      get: (ip: string) => (calls++, reader.get(ip)),
    });
    const cached = geoIpReaderFrom(counting);
    for (let i = 0; i < 5; i++) {
      cached.lookup('81.2.69.160');
      cached.lookup('89.160.20.115');
    }
    assert.equal(calls, 2);
  });

  it('a missing file or a database of another kind is a configuration error', async () => {
    const isConfigError = (pattern: RegExp) => (err: unknown) => {
      assert.ok(err instanceof WeirError && err.code === 'WEIR_CONFIG_INVALID', String(err));
      assert.match(err.message, pattern);
      return true;
    };
    await assert.rejects(openGeoIp(join(dirname(db().path), 'missing.mmdb')), isConfigError(/cannot open GeoIP database .*missing\.mmdb/));
    const asn = join(dirname(db().path), 'asn.mmdb');
    writeFileSync(asn, writeMmdb({ databaseType: 'GeoLite2-ASN', networks: [{ network: '1.0.0.0/24', data: { autonomous_system_number: 13335 } }] }));
    await assert.rejects(openGeoIp(asn), isConfigError(/is a GeoLite2-ASN database, not a City or Country one/));
    const garbage = join(dirname(db().path), 'garbage.mmdb');
    writeFileSync(garbage, 'not a database');
    await assert.rejects(openGeoIp(garbage), isConfigError(/cannot open GeoIP database/));
  });
});
