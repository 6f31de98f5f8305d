import type { Fields } from '../fields.js';

/** What happens to `context.ip`: kept, truncated to its network, or removed. */
export type IpMode = 'keep' | 'truncate' | 'drop';

/** An address, parsed: IPv4 as 4 octets, IPv6 as 8 16-bit groups. */
export type ParsedIp = { v: 4; octets: number[] } | { v: 6; groups: number[] };

function parseV4(s: string): number[] | null {
  const octets: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || n > 255 || octets.length === 4) return null;
      octets.push(n);
      n = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      n = n * 10 + (c - 0x30);
      digits++;
    } else {
      return null;
    }
  }
  return octets.length === 4 ? octets : null;
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function parseGroups(parts: readonly string[], out: number[], allowV4Tail: boolean): boolean {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (allowV4Tail && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseV4(p);
      if (v4 === null) return false;
      out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return false;
    }
  }
  return true;
}

function parseV6(input: string): number[] | null {
  const zone = input.indexOf('%');
  const s = zone < 0 ? input : input.slice(0, zone);
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return null;
  const head: number[] = [];
  const tail: number[] = [];
  if (gap < 0) {
    if (!parseGroups(s.split(':'), head, true) || head.length !== 8) return null;
    return head;
  }
  const left = s.slice(0, gap);
  const right = s.slice(gap + 2);
  if (left !== '' && !parseGroups(left.split(':'), head, false)) return null;
  if (right !== '' && !parseGroups(right.split(':'), tail, true)) return null;
  if (head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
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
  if (ip.includes(':')) {
    const groups = parseV6(ip);
    return groups === null ? null : { v: 6, groups };
  }
  const octets = parseV4(ip);
  return octets === null ? null : { v: 4, octets };
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:0:0/96), else null. */
function mappedV4(groups: readonly number[]): number[] | null {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return null;
  if (groups[5] !== 0xffff) return null;
  return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff];
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run of two or more zero groups as '::'. */
export function formatV6(groups: readonly number[]): string {
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
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * The address to look up in a GeoIP database: IPv4 as dotted quad (also when it came
 * IPv4-mapped, as Node reports clients of a dual-stack socket), IPv6 without its zone. Null when
 * `ip` is not an address.
 */
export function lookupForm(ip: string): string | null {
  const parsed = parseIp(ip);
  if (parsed === null) return null;
  if (parsed.v === 4) return parsed.octets.join('.');
  const v4 = mappedV4(parsed.groups);
  return v4 === null ? formatV6(parsed.groups) : v4.join('.');
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
  const parsed = parseIp(ip);
  if (parsed === null) return null;
  if (parsed.v === 4) return `${parsed.octets[0]}.${parsed.octets[1]}.${parsed.octets[2]}.0`;
  const v4 = mappedV4(parsed.groups);
  if (v4 !== null) return `::ffff:${v4[0]}.${v4[1]}.${v4[2]}.0`;
  return formatV6([parsed.groups[0]!, parsed.groups[1]!, parsed.groups[2]!, 0, 0, 0, 0, 0]);
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
