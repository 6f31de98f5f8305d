import type { Fields } from '../fields.js';

/** What happens to `context.ip`: kept, truncated to its network, or removed. */
export type IpMode = 'keep' | 'truncate' | 'drop';

/** An address, parsed: IPv4 as 4 octets, IPv6 as 8 16-bit groups. */
export type ParsedIp = { v: 4; octets: number[] } | { v: 6; groups: number[] };

// Hand-written scanners rather than split and regular expressions: truncation runs for every
// event, and these allocate nothing but the result.

const NOT_AN_ADDRESS = -1;

/**
 * Scans s[from, to) as a dotted quad: the address as an unsigned 32-bit number, or
 * NOT_AN_ADDRESS. Octets with leading zeros are refused, as Node's `net.isIPv4` does: "010" is 8
 * to inet_aton and 10 to a person.
 */
function scanV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || octet > 255 || dots === 4) return NOT_AN_ADDRESS;
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + (c - 0x30);
      digits++;
    } else {
      return NOT_AN_ADDRESS;
    }
  }
  return dots === 4 ? value : NOT_AN_ADDRESS;
}

function v4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** Scans an IPv6 address (zone dropped) into `out`; false when it is not one. */
function scanV6(s: string, out: Uint16Array): boolean {
  const zone = s.indexOf('%');
  const end = zone < 0 ? s.length : zone;
  let i = 0;
  let n = 0;
  let gap = -1;
  if (s.charCodeAt(0) === 0x3a /* : */) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let group = 0;
    let d: number;
    while (i < end && (d = hexDigit(s.charCodeAt(i))) >= 0) {
      group = group * 16 + d;
      if (++i - start > 4) return false;
    }
    if (i < end && s.charCodeAt(i) === 0x2e /* . */) {
      // An IPv4 tail ("::ffff:203.0.113.7") fills the last two groups.
      const v4 = scanV4(s, start, end);
      if (v4 < 0 || n > 6) return false;
      out[n++] = v4 >>> 16;
      out[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (i === start || n === 8) return false;
    out[n++] = group;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return n === 8;
  if (n > 7) return false;
  const tail = n - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[n - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

const scratch = new Uint16Array(8);

function isMapped(g: Uint16Array): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/**
 * Parses an IPv4 or IPv6 address (with an optional IPv6 zone, which is dropped). Null for
 * anything else; never throws.
 *
 * @example
 * ```ts
 * parseIp('203.0.113.7'); // { v: 4, octets: [203, 0, 113, 7] }
 * parseIp('2001:db8::1'); // { v: 6, groups: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1] }
 * ```
 */
export function parseIp(ip: string): ParsedIp | null {
  if (ip.includes(':')) return scanV6(ip, scratch) ? { v: 6, groups: Array.from(scratch) } : null;
  const v = scanV4(ip, 0, ip.length);
  return v < 0 ? null : { v: 4, octets: [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff] };
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run of two or more zero groups as '::'. */
export function formatV6(groups: ArrayLike<number>): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => Array.from(groups).slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * The address to look up in a GeoIP database: IPv4 as dotted quad (also when it came
 * IPv4-mapped, as Node reports clients of a dual-stack socket), IPv6 without its zone. Null when
 * `ip` is not an address.
 */
export function lookupForm(ip: string): string | null {
  if (!ip.includes(':')) {
    return scanV4(ip, 0, ip.length) < 0 ? null : ip;
  }
  if (!scanV6(ip, scratch)) return null;
  return isMapped(scratch) ? v4Text(scratch[6]! * 65536 + scratch[7]!) : formatV6(scratch);
}

/**
 * Truncates an address to its network, as analytics tools do to stop an address identifying a
 * person: IPv4 to /24 (last octet 0), IPv6 to /48. An IPv4-mapped IPv6 address is truncated as the
 * IPv4 address it holds, keeping its `::ffff:` form. Null when `ip` is not an address.
 *
 * @example
 * ```ts
 * truncateIp('203.0.113.77'); // '203.0.113.0'
 * truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348'); // '2001:db8:85a3::'
 * truncateIp('::ffff:203.0.113.77'); // '::ffff:203.0.113.0'
 * ```
 */
export function truncateIp(ip: string): string | null {
  if (!ip.includes(':')) {
    return scanV4(ip, 0, ip.length) < 0 ? null : `${ip.slice(0, ip.lastIndexOf('.'))}.0`;
  }
  const g = scratch;
  if (!scanV6(ip, g)) return null;
  if (isMapped(g)) return `::ffff:${v4Text((g[6]! * 65536 + (g[7]! & 0xff00)) >>> 0)}`;
  // The /48 keeps groups 0-2; the zero groups after them are always the longest run, so RFC 5952
  // text is the groups up to the last non-zero one, then '::'.
  let last = 2;
  while (last >= 0 && g[last] === 0) last--;
  if (last < 0) return '::';
  let text = g[0]!.toString(16);
  for (let k = 1; k <= last; k++) text += `:${g[k]!.toString(16)}`;
  return `${text}::`;
}

/**
 * Applies the source's ip mode to `context.ip`. Under 'truncate', a value that is not an address
 * is removed rather than kept, since it cannot be made safe. Removal assigns undefined rather than
 * `delete`, which would turn the context into a slow dictionary object; JSON leaves it out alike.
 *
 * @example
 * ```ts
 * const context = { ip: '198.51.100.23' };
 * applyIpMode(context, 'truncate'); // context.ip === '198.51.100.0'
 * ```
 */
export function applyIpMode(context: Fields, mode: IpMode): void {
  const ip = context.ip;
  if (ip === undefined || mode === 'keep') return;
  context.ip = mode === 'truncate' && typeof ip === 'string' ? (truncateIp(ip) ?? undefined) : undefined;
}
