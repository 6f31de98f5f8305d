/**
 * The secrets privacy features hash with, kept in the data directory:
 * - `secret`: 32 random bytes, the key of pseudonymisation (a keyed hash, so pseudonyms cannot be
 *   reversed by hashing guesses without it); created once, mode 0600;
 * - `salts/<YYYY-MM-DD>`: one random salt per UTC day for cookieless visitor ids, deleted after
 *   two days. Because yesterday's salt is gone, nobody (not even the operator) can link a
 *   visitor's days together or recompute an id from an address, as Plausible does it.
 *
 * Every collector process of a machine shares the files: the first to need one creates it with
 * an exclusive create, the others read it.
 *
 * @example
 * ```ts
 * const secret = loadSecret('.weir');
 * const salts = new DailySalts('.weir');
 * cookielessId(salts.today(), 'src_1', '203.0.113.9', 'Mozilla/5.0 …'); // 'cl_3f…'
 * ```
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function readOrCreate(path: string, bytes: number): Buffer {
  try {
    writeFileSync(path, randomBytes(bytes), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const value = readFileSync(path);
  // A reader that raced the creator may see the file before its bytes: read again.
  return value.length === bytes ? value : readFileSync(path);
}

/** The installation's pseudonymisation key. */
export function loadSecret(dataDir: string): Buffer {
  mkdirSync(dataDir, { recursive: true });
  return readOrCreate(join(dataDir, 'secret'), 32);
}

export class DailySalts {
  readonly #dir: string;
  #day = '';
  #salt: Buffer = Buffer.alloc(0);

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'salts');
  }

  /** The salt of the current UTC day (created on first use; older than yesterday's deleted). */
  today(now = new Date()): Buffer {
    const day = now.toISOString().slice(0, 10);
    if (day === this.#day) return this.#salt;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    this.#salt = readOrCreate(join(this.#dir, day), 32);
    this.#day = day;
    const yesterday = new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
    for (const name of readdirSync(this.#dir)) {
      if (name < yesterday) rmSync(join(this.#dir, name), { force: true });
    }
    return this.#salt;
  }
}

/**
 * A cookieless visitor id: a keyed hash of source, address and user agent under the day's salt.
 * The same browser gets the same id all day, and a new, unlinkable one tomorrow.
 */
export function cookielessId(salt: Buffer, sourceId: string, ip: string, userAgent: string): string {
  return `cl_${createHmac('sha256', salt).update(`${sourceId}\n${ip}\n${userAgent}`).digest('hex').slice(0, 32)}`;
}
