import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGeoIp, type GeoIpReader } from '../../src/enrich/privacy/geoip.js';
import { writeMmdb, type MmdbNetwork, type MmdbValue } from './mmdb-writer.js';

function place(country: [iso: string, name: string], subdivision?: [iso: string, name: string], city?: string): MmdbValue {
  const data: Record<string, MmdbValue> = {
    continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe' } },
    country: { geoname_id: 1, iso_code: country[0], names: { en: country[1], de: `${country[1]} (de)` } },
    location: { accuracy_radius: 100, latitude: 51.5142, longitude: -0.0931, time_zone: 'Europe/London' },
  };
  if (subdivision) data.subdivisions = [{ geoname_id: 2, iso_code: subdivision[0], names: { en: subdivision[1] } }];
  if (city) data.city = { geoname_id: 3, names: { en: city, fr: `${city} (fr)` } };
  return data;
}

/**
 * A City-like database with a few networks, shaped as GeoLite2-City records (the addresses are
 * those of MaxMind's own test databases).
 */
export const CITY_NETWORKS: readonly MmdbNetwork[] = [
  { network: '81.2.69.0/24', data: place(['GB', 'United Kingdom'], ['ENG', 'England'], 'London') },
  { network: '89.160.20.112/28', data: place(['SE', 'Sweden'], ['E', 'Östergötland County'], 'Linköping') },
  { network: '216.160.83.56/29', data: place(['US', 'United States'], ['WA', 'Washington'], 'Milton') },
  // A wider network with a narrower one inside it.
  { network: '175.16.0.0/16', data: place(['CN', 'China']) },
  { network: '175.16.199.0/24', data: place(['CN', 'China'], ['22', 'Jilin Sheng'], 'Changchun') },
  { network: '2001:218::/32', data: place(['JP', 'Japan']) },
  { network: '2a02:cf40::/29', data: place(['NO', 'Norway'], ['30', 'Viken'], 'Oslo') },
  // A subdivision with only an ISO code, and a record with only registered_country.
  { network: '202.196.224.0/20', data: { country: { geoname_id: 4, iso_code: 'PH', names: { en: 'Philippines' } }, subdivisions: [{ geoname_id: 5, iso_code: '00' }] } },
  { network: '67.43.156.0/24', data: { registered_country: { geoname_id: 6, iso_code: 'BT', names: { en: 'Bhutan' } } } },
];

export interface CityDatabase {
  /** The .mmdb file, in a temporary directory of its own. */
  path: string;
  /** The file opened with {@link openGeoIp}. */
  geoip: GeoIpReader;
  cleanup: () => void;
}

/** Writes the City fixture to a temporary directory and opens it; call `cleanup` when done. */
export async function openCityDatabase(): Promise<CityDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-geoip-'));
  const path = join(dir, 'city.mmdb');
  writeFileSync(path, writeMmdb({ databaseType: 'GeoLite2-City', networks: CITY_NETWORKS }));
  return { path, geoip: await openGeoIp(path), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Opens the City fixture before the tests of the calling suite and removes it after them.
 *
 * @example
 * ```ts
 * describe('x', () => {
 *   const db = useCityDatabase();
 *   it('looks up', () => db().geoip.lookup('81.2.69.160'));
 * });
 * ```
 */
export function useCityDatabase(): () => CityDatabase {
  let db: CityDatabase | undefined;
  before(async () => {
    db = await openCityDatabase();
  });
  after(() => db?.cleanup());
  return () => {
    if (db === undefined) throw new Error('the City fixture is opened in before()');
    return db;
  };
}
