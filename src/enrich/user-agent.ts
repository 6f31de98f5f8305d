import UAParser from 'ua-parser-js';
import { detectBot } from './bot.js';
import { fillMissing, type Fields } from './fields.js';
import { LruCache } from './lru.js';

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'tv' | 'console' | 'wearable' | 'embedded' | 'bot';

/** What a user agent says, in Segment's context fields. Absent parts are left out. */
export interface UserAgentFacts {
  readonly browser?: Readonly<{ name: string; version?: string }>;
  readonly os?: Readonly<{ name: string; version?: string }>;
  readonly device: Readonly<{ type: DeviceType }>;
}

// ua-parser-js 1.x (MIT); 2.x is AGPL and must not be used.
const parser = new UAParser();
// ua-parser reads only the first 500 characters, so longer strings share one cache entry.
const UA_MAX_LENGTH = 500;

const DEVICE_TYPES: ReadonlyMap<string, DeviceType> = new Map<string, DeviceType>([
  ['mobile', 'mobile'],
  ['tablet', 'tablet'],
  ['smarttv', 'tv'],
  ['console', 'console'],
  ['wearable', 'wearable'],
  ['embedded', 'embedded'],
]);
const DEVICES = new Map<DeviceType, Readonly<{ type: DeviceType }>>(
  (['desktop', 'mobile', 'tablet', 'tv', 'console', 'wearable', 'embedded', 'bot'] as const).map((t) => [t, Object.freeze({ type: t })]),
);

function nameAndVersion(name: string | undefined, version: string | undefined): Readonly<{ name: string; version?: string }> | undefined {
  if (name === undefined || name === '') return undefined;
  return Object.freeze(version === undefined || version === '' ? { name } : { name, version });
}

function parse(ua: string): UserAgentFacts {
  // The three parts only: getResult() would also parse the engine and CPU (~20 % more time).
  parser.setUA(ua);
  const r = { browser: parser.getBrowser(), os: parser.getOS(), device: parser.getDevice() };
  // ua-parser has no type for desktops: no type means desktop, unless the agent is a bot.
  const type: DeviceType = detectBot(ua).bot ? 'bot' : (DEVICE_TYPES.get(r.device.type ?? '') ?? 'desktop');
  const facts: { -readonly [K in keyof UserAgentFacts]: UserAgentFacts[K] } = { device: DEVICES.get(type)! };
  const browser = nameAndVersion(r.browser.name, r.browser.version);
  if (browser !== undefined) facts.browser = browser;
  const os = nameAndVersion(r.os.name, r.os.version);
  if (os !== undefined) facts.os = os;
  return Object.freeze(facts);
}

const cache = new LruCache<UserAgentFacts>({ capacity: 1024, maxKeyLength: UA_MAX_LENGTH });

/**
 * Parses a user agent with ua-parser-js (about 30 µs) through a bounded cache: real traffic has
 * few distinct user agents, so nearly every event is a cache hit. The result is frozen and shared.
 *
 * @example
 * ```ts
 * parseUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1');
 * // { device: { type: 'mobile' }, browser: { name: 'Mobile Safari', version: '18.1' }, os: { name: 'iOS', version: '18.1' } }
 * ```
 */
export function parseUserAgent(userAgent: string): UserAgentFacts {
  return cache.get(userAgent.length > UA_MAX_LENGTH ? userAgent.slice(0, UA_MAX_LENGTH) : userAgent, parse);
}

/**
 * Sets `context.browser`, `context.os` and `context.device.type` from `context.userAgent`, filling
 * only what the client did not send (mobile SDKs send their own `os` and `device`).
 *
 * @example
 * ```ts
 * const context = { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' };
 * enrichUserAgent(context);
 * // context.browser = { name: 'Chrome', version: '131.0.0.0' }, context.os = { name: 'Windows', version: '10' },
 * // context.device = { type: 'desktop' }
 * ```
 */
export function enrichUserAgent(context: Fields): void {
  const ua = context.userAgent;
  if (typeof ua !== 'string' || ua === '') return;
  const facts = parseUserAgent(ua);
  if (facts.browser !== undefined) fillMissing(context, 'browser', facts.browser);
  if (facts.os !== undefined) fillMissing(context, 'os', facts.os);
  fillMissing(context, 'device', facts.device);
}
