import { open, type CityResponse, type Reader } from 'maxmind';
import { WeirError } from '../../errors/catalogue.js';
import { fillMissing, type Fields } from '../fields.js';
import { LruCache } from '../lru.js';
import { lookupForm } from './ip.js';

/** `context.location` as Weir sets it: ISO country code, first subdivision, city (English names). */
export interface GeoLocation {
  readonly country?: string;
  readonly region?: string;
  readonly city?: string;
}

/** A GeoIP database, opened once. The port the enricher uses; maxmind's types stay in this file. */
export interface GeoIpReader {
  /** The database's type from its metadata, e.g. 'GeoLite2-City'. */
  readonly databaseType: string;
  /** The location of a full (untruncated) address, or null when the database does not know it. */
  lookup(ip: string): Readonly<GeoLocation> | null;
}

function toLocation(r: CityResponse | null): Readonly<GeoLocation> | null {
  if (r === null) return null;
  const location: { -readonly [K in keyof GeoLocation]: GeoLocation[K] } = {};
  const country = r.country?.iso_code ?? r.registered_country?.iso_code;
  if (country) location.country = country;
  const subdivision = r.subdivisions?.[0];
  const region = subdivision?.names?.en ?? subdivision?.iso_code;
  if (region) location.region = region;
  const city = r.city?.names?.en;
  if (city) location.city = city;
  return location.country === undefined && location.region === undefined && location.city === undefined ? null : Object.freeze(location);
}

/**
 * Wraps an opened maxmind reader as a {@link GeoIpReader}, with a bounded cache per address (a
 * visitor sends many events from one address; a tree walk costs about a microsecond).
 */
export function geoIpReaderFrom(reader: Reader<CityResponse>, cacheSize = 8192): GeoIpReader {
  const cache = new LruCache<Readonly<GeoLocation> | null>({ capacity: cacheSize, maxKeyLength: 64 });
  const find = (ip: string): Readonly<GeoLocation> | null => {
    const address = lookupForm(ip);
    return address === null ? null : toLocation(reader.get(address));
  };
  return {
    databaseType: reader.metadata.databaseType,
    lookup: (ip) => cache.get(ip, find),
  };
}

const LOCATION_DATABASES = /city|country|enterprise/i;

/**
 * Opens a MaxMind-format (.mmdb) City or Country database the user supplies (GeoLite2, GeoIP2,
 * DB-IP lite). Weir ships none. A missing, unreadable or wrong kind of file is a configuration
 * error.
 *
 * @example
 * ```ts
 * const geoip = await openGeoIp('/var/lib/GeoIP/GeoLite2-City.mmdb');
 * geoip.lookup('81.2.69.160'); // { country: 'GB', region: 'England', city: 'London' }
 * ```
 */
export async function openGeoIp(path: string): Promise<GeoIpReader> {
  let reader: Reader<CityResponse>;
  try {
    reader = await open<CityResponse>(path);
  } catch (err) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `cannot open GeoIP database ${path}: ${(err as Error).message}` }, { cause: err });
  }
  const type = reader.metadata.databaseType;
  if (!LOCATION_DATABASES.test(type)) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `GeoIP database ${path} is a ${type} database, not a City or Country one` });
  }
  return geoIpReaderFrom(reader);
}

/**
 * Sets `context.location` from `context.ip`, filling only the fields the client did not send.
 * Runs before the ip is truncated, so the lookup sees the full address.
 */
export function enrichLocation(context: Fields, geoip: GeoIpReader): void {
  const ip = context.ip;
  if (typeof ip !== 'string' || ip === '') return;
  const location = geoip.lookup(ip);
  if (location !== null) fillMissing(context, 'location', location);
}
