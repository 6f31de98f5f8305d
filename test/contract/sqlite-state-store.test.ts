import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import type { BootstrapResult, StateStore } from '../../src/state/state-store.js';
import { stateStoreContract, type StateStoreFixture } from './state-store.contract.js';

const run = promisify(execFile);

/** A fresh database file in a directory that does not exist yet, so opening must create it. */
async function sqliteFixture(): Promise<StateStoreFixture & { file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-state-'));
  const path = join(dir, 'nested', 'weir.sqlite');
  const opened: StateStore[] = [];
  const open = async (): Promise<StateStore> => {
    const store = await openSqliteStateStore({ file: path });
    opened.push(store);
    return store;
  };
  return {
    file: path,
    store: await open(),
    openAnother: open,
    async cleanup() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

stateStoreContract('sqlite file', () => sqliteFixture());

describe('SQLite state store', () => {
  it('creates the directory and leaves the file in WAL mode', async () => {
    const fx = await sqliteFixture();
    try {
      await fx.store.bootstrap();
      const raw = new BetterSqlite3(fx.file, { readonly: true });
      try {
        assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        raw.close();
      }
    } finally {
      await fx.cleanup();
    }
  });

  it('keeps a shared connection open until the last store on the file closes', async () => {
    const fx = await sqliteFixture();
    try {
      const { source } = await fx.store.bootstrap();
      const other = await fx.openAnother();
      await fx.store.close();
      assert.deepEqual(await other.sourceByWriteKey(source.writeKey), source);
      await other.close();
      const reopened = await fx.openAnother();
      assert.equal((await reopened.bootstrap()).created, false);
    } finally {
      await fx.cleanup();
    }
  });

  it('bootstraps once when several processes start on a new file at the same time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-state-procs-'));
    const file = join(dir, 'weir.sqlite');
    const moduleUrl = new URL('../../src/state/sqlite/index.js', import.meta.url).href;
    // Separate processes, not stores in this one: only they have separate SQLite connections
    // contending for the same file's locks.
    const child = `
      const { openSqliteStateStore } = await import(${JSON.stringify(moduleUrl)});
      const store = await openSqliteStateStore({ file: process.argv[1] });
      const result = await store.bootstrap();
      const source = await store.createSource({ workspaceId: result.workspace.id, name: 'p' + process.pid });
      await store.insertFailedEvents([{ sourceId: source.id, reason: 'R', message: 'm', messageId: null,
        payload: '{}', receivedAt: new Date(), partition: 0, offset: 7 }]);
      await store.close();
      process.stdout.write(JSON.stringify(result));
    `;
    try {
      const outputs = await Promise.all(
        Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', child, file], { timeout: 30_000 })),
      );
      const results = outputs.map((o) => JSON.parse(o.stdout) as BootstrapResult);
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.workspace.id)).size, 1);
      assert.equal(new Set(results.map((r) => r.source.writeKey)).size, 1);

      const store = await openSqliteStateStore({ file });
      try {
        assert.equal((await store.listWorkspaces()).length, 1);
        assert.equal((await store.listSources()).length, 5);
        assert.equal((await store.listFailedEvents()).length, 1);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
