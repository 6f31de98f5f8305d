import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WeirConfig } from '../config/schema.js';
import type { StateStore } from '../state/state-store.js';

/** Where `weir up` leaves an admin token for command-line tools of the same machine. */
export function cliTokenPath(config: WeirConfig): string {
  return join(config.dataDir, 'cli-token');
}

/**
 * Makes sure the data directory holds a valid admin token readable only by its owner, so that
 * `weir query` can reach a running server's API the way the docker CLI reaches its socket:
 * whoever can read the data directory may already read every event in it. Reuses the token
 * while it stays valid, so restarts do not pile up tokens.
 */
export async function ensureCliToken(config: WeirConfig, state: Pick<StateStore, 'verifyAdminToken' | 'createAdminToken'>): Promise<void> {
  const path = cliTokenPath(config);
  try {
    if (await state.verifyAdminToken(readFileSync(path, 'utf8').trim())) return;
  } catch {
    // missing or unreadable: write a new one
  }
  // With the log in NATS and the metadata in Postgres nothing else creates the data directory.
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(path, `${await state.createAdminToken()}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The local token, or undefined when no server has written one. */
export function readCliToken(config: WeirConfig): string | undefined {
  try {
    return readFileSync(cliTokenPath(config), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
