/**
 * A small writer of MaxMind DB (.mmdb) files, so GeoIP tests run against a real database file
 * read by the real `maxmind` reader, without committing or downloading one. It follows the format
 * spec (https://maxmind.github.io/MaxMind-DB/, v2.0): a binary search tree over IPv6 addresses
 * with IPv4 networks at ::/96, 24-bit records, a 16-byte separator, a data section of maps,
 * arrays, strings and numbers, and the metadata map after "\xAB\xCD\xEFMaxMind.com".
 *
 * @example
 * ```ts
 * const db = writeMmdb({
 *   databaseType: 'GeoLite2-City',
 *   networks: [{ network: '81.2.69.0/24', data: { country: { iso_code: 'GB' } } }],
 * });
 * writeFileSync(path, db);
 * ```
 */
import { parseIp } from '../../src/enrich/privacy/ip.js';

/** An unsigned integer of a given width (the metadata's fields must have their spec'd types). */
export class Uint {
  constructor(
    readonly bits: 16 | 32 | 64,
    readonly value: number | bigint,
  ) {}
}

export type MmdbValue = string | number | boolean | bigint | Uint | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** CIDR, IPv4 ('81.2.69.0/24') or IPv6 ('2001:db8::/32'). */
  network: string;
  data: MmdbValue;
}

// Data types of the spec; 8 and up are "extended" types, written as 0 plus a second byte.
const T_STRING = 2;
const T_DOUBLE = 3;
const T_UINT16 = 5;
const T_UINT32 = 6;
const T_MAP = 7;
const T_UINT64 = 9;
const T_ARRAY = 11;
const T_BOOLEAN = 14;

function control(type: number, size: number): Buffer {
  const bytes: number[] = [type <= 7 ? type << 5 : 0];
  if (type > 7) bytes.push(type - 7);
  if (size < 29) {
    bytes[0]! |= size;
  } else if (size < 29 + 256) {
    bytes[0]! |= 29;
    bytes.push(size - 29);
  } else if (size < 285 + 65536) {
    bytes[0]! |= 30;
    const s = size - 285;
    bytes.push(s >> 8, s & 0xff);
  } else {
    bytes[0]! |= 31;
    const s = size - 65821;
    bytes.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff);
  }
  return Buffer.from(bytes);
}

function uintBytes(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError(`unsigned value ${value} is negative`);
  const bytes: number[] = [];
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from(bytes);
}

/** Encodes one value of the data section (also used for the metadata map). */
export function encodeValue(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(T_STRING, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(T_BOOLEAN, value ? 1 : 0);
  if (typeof value === 'bigint') value = new Uint(64, value);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) value = new Uint(32, value);
    else {
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleBE(value);
      return Buffer.concat([control(T_DOUBLE, 8), bytes]);
    }
  }
  if (value instanceof Uint) {
    const bytes = uintBytes(value.value);
    if (bytes.length * 8 > value.bits) throw new RangeError(`${value.value} does not fit in uint${value.bits}`);
    const type = value.bits === 16 ? T_UINT16 : value.bits === 32 ? T_UINT32 : T_UINT64;
    return Buffer.concat([control(type, bytes.length), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(T_ARRAY, value.length), ...value.map(encodeValue)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(T_MAP, entries.length), ...entries.flatMap(([k, v]) => [encodeValue(k), encodeValue(v)])]);
}

type TreeRecord = { kind: 'empty' } | { kind: 'data'; offset: number } | { kind: 'node'; node: TreeNode };
interface TreeNode {
  left: TreeRecord;
  right: TreeRecord;
}

/** The network's 128 bits (IPv4 at ::/96) and prefix length in the IPv6 tree. */
function networkBits(cidr: string): { bytes: number[]; prefix: number } {
  const slash = cidr.indexOf('/');
  const parsed = parseIp(slash < 0 ? cidr : cidr.slice(0, slash));
  if (parsed === null) throw new Error(`not a network: ${cidr}`);
  const width = parsed.v === 4 ? 32 : 128;
  const length = slash < 0 ? width : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(length) || length < 1 || length > width) throw new Error(`bad prefix length in ${cidr}`);
  const bytes =
    parsed.v === 4 ? [...new Array<number>(12).fill(0), ...parsed.octets] : parsed.groups.flatMap((g) => [g >> 8, g & 0xff]);
  return { bytes, prefix: length + (128 - width) };
}

const RECORD_BITS = 24;

function insert(root: TreeNode, cidr: string, offset: number): void {
  const { bytes, prefix } = networkBits(cidr);
  let node = root;
  for (let depth = 0; depth < prefix; depth++) {
    const side = (bytes[depth >> 3]! >> (7 - (depth & 7))) & 1 ? 'right' : 'left';
    if (depth === prefix - 1) {
      node[side] = { kind: 'data', offset };
      return;
    }
    const rec = node[side];
    if (rec.kind === 'node') {
      node = rec.node;
      continue;
    }
    // An empty branch, or a wider network being split: both halves keep what it held.
    const child: TreeNode = { left: rec, right: rec };
    node[side] = { kind: 'node', node: child };
    node = child;
  }
}

/**
 * Builds a whole .mmdb file. Networks may nest (a /24 inside a /16): wider ones are inserted
 * first and narrower ones override their part.
 */
export function writeMmdb(opts: {
  databaseType: string;
  networks: readonly MmdbNetwork[];
  languages?: string[];
  description?: string;
  buildEpoch?: number;
}): Buffer {
  const dataParts: Buffer[] = [];
  const offsets = new Map<string, number>();
  let dataSize = 0;
  const root: TreeNode = { left: { kind: 'empty' }, right: { kind: 'empty' } };
  const byWidth = [...opts.networks].sort((a, b) => networkBits(a.network).prefix - networkBits(b.network).prefix);
  for (const n of byWidth) {
    const key = JSON.stringify(n.data, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    let offset = offsets.get(key);
    if (offset === undefined) {
      offset = dataSize;
      const encoded = encodeValue(n.data);
      dataParts.push(encoded);
      dataSize += encoded.length;
      offsets.set(key, offset);
    }
    insert(root, n.network, offset);
  }

  const order: TreeNode[] = [];
  const index = new Map<TreeNode, number>();
  for (let i = 0, queue = [root]; i < queue.length; i++) {
    const node = queue[i]!;
    index.set(node, order.length);
    order.push(node);
    for (const rec of [node.left, node.right]) if (rec.kind === 'node') queue.push(rec.node);
  }
  const nodeCount = order.length;
  const value = (rec: TreeRecord): number =>
    rec.kind === 'empty' ? nodeCount : rec.kind === 'node' ? index.get(rec.node)! : nodeCount + 16 + rec.offset;
  const tree = Buffer.alloc(nodeCount * 6);
  order.forEach((node, i) => {
    for (const [j, rec] of [node.left, node.right].entries()) {
      const v = value(rec);
      if (v >= 2 ** RECORD_BITS) throw new RangeError('database too large for 24-bit records');
      tree.writeUIntBE(v, i * 6 + j * 3, 3);
    }
  });

  const metadata = encodeValue({
    binary_format_major_version: new Uint(16, 2),
    binary_format_minor_version: new Uint(16, 0),
    build_epoch: new Uint(64, BigInt(opts.buildEpoch ?? 1_767_225_600)),
    database_type: opts.databaseType,
    description: { en: opts.description ?? 'Weir test database' },
    ip_version: new Uint(16, 6),
    languages: opts.languages ?? ['en'],
    node_count: new Uint(32, nodeCount),
    record_size: new Uint(16, RECORD_BITS),
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...dataParts, Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1'), metadata]);
}
