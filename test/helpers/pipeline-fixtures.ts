import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresPipelineStore, openSqlitePipelineStore } from '../../src/pipelines/store/open.js';
import type { PipelineStore } from '../../src/pipelines/store/pipeline-store.js';
import { POSTGRES_URL } from './warehouse-fixtures.js';

export interface StoreFixture {
  store: PipelineStore;
  /** Opens another store on the same database (another "process" for the claim tests). */
  openAnother(): Promise<PipelineStore>;
  /** For child processes: how to reach the same database. */
  location: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string };
  cleanup(): Promise<void>;
}

/** A tag unique to this run, for schemas on the shared Postgres. */
export function uniqueTag(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export async function sqliteStoreFixture(): Promise<StoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-pstore-'));
  const file = join(dir, 'weir.sqlite');
  const opened: PipelineStore[] = [];
  const open = async () => {
    const s = await openSqlitePipelineStore({ file });
    opened.push(s);
    return s;
  };
  return {
    store: await open(),
    openAnother: open,
    location: { kind: 'sqlite', file },
    async cleanup() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The metadata in a fresh schema of the local Postgres, or why it cannot be used. */
export async function postgresStoreFixture(): Promise<StoreFixture | { skip: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
  } catch (err) {
    return { skip: `PostgreSQL at 127.0.0.1:5432 unreachable: ${(err as Error).message}` };
  }
  const schema = uniqueTag('pmeta');
  const opened: PipelineStore[] = [];
  const open = async () => {
    const s = await openPostgresPipelineStore({ url: POSTGRES_URL, schema, poolSize: 4 });
    opened.push(s);
    return s;
  };
  return {
    store: await open(),
    openAnother: open,
    location: { kind: 'postgres', url: POSTGRES_URL, schema },
    async cleanup() {
      for (const s of opened) await s.close();
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${c.escapeIdentifier(schema)} cascade`);
      } finally {
        await c.end();
      }
    },
  };
}

export const STORE_FIXTURES: ReadonlyArray<{ name: string; open: () => Promise<StoreFixture | { skip: string }> }> = [
  { name: 'sqlite', open: sqliteStoreFixture },
  { name: 'postgres', open: postgresStoreFixture },
];

/** Skips (or, with WEIR_REQUIRE_SERVICES=1, fails) when a fixture's service is unavailable. */
export function requireOrSkip<T extends object>(name: string, fx: T | { skip: string }, skip: (reason: string) => void): fx is T {
  if (!('skip' in fx)) return true;
  if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error(`${name} is required but unavailable: ${fx.skip}`);
  console.log(`SKIP ${name}: ${fx.skip}`);
  skip(fx.skip);
  return false;
}
