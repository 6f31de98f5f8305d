/**
 * The StateStore contract: every adapter (SQLite, Postgres, …) runs these same cases.
 *
 * @example
 * ```ts
 * stateStoreContract('sqlite', async () => {
 *   const file = join(mkdtempSync(join(tmpdir(), 'weir-')), 'weir.sqlite');
 *   const opened: StateStore[] = [];
 *   const open = async () => { const s = await openSqliteStateStore({ file }); opened.push(s); return s; };
 *   return { store: await open(), openAnother: open, cleanup: async () => { for (const s of opened) await s.close(); } };
 * });
 * ```
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError, type ErrorCode } from '../../src/errors/catalogue.js';
import type { NewFailedEvent, StateStore } from '../../src/state/state-store.js';

export interface StateStoreFixture {
  /** A store on a fresh, empty database (not yet bootstrapped). */
  store: StateStore;
  /** Opens another store on the same database, the way a second process would. */
  openAnother(): Promise<StateStore>;
  /** Closes every store the fixture opened and removes the database. */
  cleanup(): Promise<void>;
}

const WRITE_KEY = /^[A-Za-z0-9]{32}$/;
const ADMIN_TOKEN = /^weir_adm_[A-Za-z0-9]{32}$/;

function hasCode(code: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WeirError, `expected a WeirError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function failed(overrides: Partial<NewFailedEvent> & { offset: number }): NewFailedEvent {
  return {
    sourceId: 'src_a',
    reason: 'WEIR_EVENT_MISSING_TYPE',
    message: 'event has no type',
    messageId: `m-${overrides.offset}`,
    payload: JSON.stringify({ n: overrides.offset }),
    receivedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, overrides.offset)),
    partition: 0,
    ...overrides,
  };
}

export function stateStoreContract(name: string, factory: () => Promise<StateStoreFixture>): void {
  describe(`StateStore contract: ${name}`, () => {
    let fx: StateStoreFixture;
    let store: StateStore;

    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    describe('bootstrap', () => {
      it('creates the default workspace, source and admin token once, and returns the token only then', async () => {
        const first = await store.bootstrap();
        assert.equal(first.created, true);
        assert.equal(first.workspace.name, 'default');
        assert.match(first.workspace.id, /^ws_[A-Za-z0-9]+$/);
        assert.equal(first.source.name, 'default');
        assert.equal(first.source.workspaceId, first.workspace.id);
        assert.match(first.source.id, /^src_[A-Za-z0-9]+$/);
        assert.match(first.source.writeKey, WRITE_KEY);
        assert.ok(first.adminToken !== undefined);
        assert.match(first.adminToken, ADMIN_TOKEN);
        assert.equal(await store.verifyAdminToken(first.adminToken), true);

        const second = await store.bootstrap();
        assert.deepEqual(second, { created: false, workspace: first.workspace, source: first.source });
        assert.deepEqual(await store.defaultWorkspace(), first.workspace);
        assert.equal((await store.listWorkspaces()).length, 1);
        assert.equal((await store.listSources()).length, 1);
      });

      it('leaves one default workspace when two stores bootstrap the same database at once', async () => {
        const other = await fx.openAnother();
        const results = await Promise.all([store.bootstrap(), other.bootstrap(), store.bootstrap(), other.bootstrap()]);
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(results.filter((r) => r.adminToken !== undefined).length, 1);
        for (const r of results) {
          assert.deepEqual(r.workspace, results[0]!.workspace);
          assert.deepEqual(r.source, results[0]!.source);
        }
        assert.deepEqual(await store.listWorkspaces(), [results[0]!.workspace]);
        assert.deepEqual(await other.listSources(), [results[0]!.source]);
      });

      it('a second store sees what the first created', async () => {
        const { source } = await store.bootstrap();
        const other = await fx.openAnother();
        const again = await other.bootstrap();
        assert.equal(again.created, false);
        assert.deepEqual(await other.sourceByWriteKey(source.writeKey), source);
      });
    });

    describe('workspaces', () => {
      beforeEach(async () => {
        await store.bootstrap();
      });

      it('creates and lists workspaces', async () => {
        const acme = await store.createWorkspace('acme');
        assert.equal(acme.name, 'acme');
        assert.match(acme.id, /^ws_[A-Za-z0-9]+$/);
        assert.ok(acme.createdAt instanceof Date);
        const all = await store.listWorkspaces();
        assert.deepEqual(all.map((w) => w.name).sort(), ['acme', 'default']);
        assert.deepEqual(all.find((w) => w.name === 'acme'), acme);
        assert.equal((await store.defaultWorkspace()).name, 'default');
      });

      it('rejects a duplicate or blank workspace name', async () => {
        await store.createWorkspace('acme');
        await assert.rejects(store.createWorkspace('acme'), hasCode('WEIR_API_INVALID_REQUEST'));
        await assert.rejects(store.createWorkspace('  '), hasCode('WEIR_API_INVALID_REQUEST'));
      });
    });

    describe('sources', () => {
      let workspaceId: string;
      beforeEach(async () => {
        workspaceId = (await store.bootstrap()).workspace.id;
      });

      it('creates, lists and gets sources by id, name and write key', async () => {
        const web = await store.createSource({ workspaceId, name: 'web' });
        const server = await store.createSource({ workspaceId, name: 'server' });
        assert.match(web.id, /^src_[A-Za-z0-9]+$/);
        assert.match(web.writeKey, WRITE_KEY);
        assert.notEqual(web.writeKey, server.writeKey);
        assert.notEqual(web.id, server.id);
        assert.equal(web.workspaceId, workspaceId);

        // Oldest first; sources created in the same millisecond come in name order.
        const listed = (await store.listSources(workspaceId)).map((s) => s.name);
        assert.equal(listed[0], 'default');
        assert.deepEqual([...listed].sort(), ['default', 'server', 'web']);
        assert.deepEqual(await store.getSource(web.id), web);
        assert.deepEqual(await store.getSource('server'), server);
        assert.equal(await store.getSource('nope'), undefined);
        assert.deepEqual(await store.sourceByWriteKey(web.writeKey), web);
        assert.equal(await store.sourceByWriteKey('x'.repeat(32)), undefined);
        assert.equal(await store.sourceByWriteKey(''), undefined);
      });

      it('rejects a duplicate name in the same workspace with WEIR_SOURCE_NAME_TAKEN', async () => {
        await store.createSource({ workspaceId, name: 'web' });
        await assert.rejects(store.createSource({ workspaceId, name: 'web' }), (err) => {
          hasCode('WEIR_SOURCE_NAME_TAKEN')(err);
          assert.match((err as Error).message, /web/);
          return true;
        });
        await assert.rejects(store.createSource({ workspaceId, name: 'default' }), hasCode('WEIR_SOURCE_NAME_TAKEN'));
        assert.equal((await store.listSources(workspaceId)).length, 2);
      });

      it('allows only one of two concurrent creates with the same name', async () => {
        const other = await fx.openAnother();
        const settled = await Promise.allSettled([
          store.createSource({ workspaceId, name: 'race' }),
          other.createSource({ workspaceId, name: 'race' }),
        ]);
        assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
        const rejected = settled.find((s) => s.status === 'rejected');
        assert.ok(rejected?.status === 'rejected');
        hasCode('WEIR_SOURCE_NAME_TAKEN')(rejected.reason);
      });

      it('scopes names to a workspace; an ambiguous name resolves in the default workspace', async () => {
        const acme = await store.createWorkspace('acme');
        const acmeWeb = await store.createSource({ workspaceId: acme.id, name: 'web' });
        const acmeOnly = await store.createSource({ workspaceId: acme.id, name: 'billing' });
        assert.deepEqual(await store.getSource('web'), acmeWeb);
        const defaultWeb = await store.createSource({ workspaceId, name: 'web' });

        assert.deepEqual(await store.getSource('web'), defaultWeb);
        assert.deepEqual(await store.getSource('billing'), acmeOnly);
        assert.deepEqual(await store.getSource(acmeWeb.id), acmeWeb);
        assert.deepEqual(new Set((await store.listSources(acme.id)).map((s) => s.id)), new Set([acmeWeb.id, acmeOnly.id]));
        assert.equal((await store.listSources()).length, 4);
      });

      it('rejects an unknown workspace and unusable names', async () => {
        await assert.rejects(store.createSource({ workspaceId: 'ws_missing', name: 'web' }), hasCode('WEIR_API_INVALID_REQUEST'));
        for (const bad of ['', ' web', 'my source', 'a\u001b[31mb', 'x'.repeat(65), 'wéb']) {
          await assert.rejects(store.createSource({ workspaceId, name: bad }), hasCode('WEIR_API_INVALID_REQUEST'), JSON.stringify(bad));
        }
      });
    });

    describe('admin tokens', () => {
      beforeEach(async () => {
        await store.bootstrap();
      });

      it('verifies tokens it issued and nothing else', async () => {
        const token = await store.createAdminToken();
        assert.match(token, ADMIN_TOKEN);
        assert.equal(await store.verifyAdminToken(token), true);
        const other = await store.createAdminToken();
        assert.notEqual(other, token);
        assert.equal(await store.verifyAdminToken(other), true);

        const last = token.at(-1) === 'a' ? 'b' : 'a';
        assert.equal(await store.verifyAdminToken(token.slice(0, -1) + last), false);
        assert.equal(await store.verifyAdminToken(`weir_adm_${'A'.repeat(32)}`), false);
        assert.equal(await store.verifyAdminToken(token.slice('weir_adm_'.length)), false);
        assert.equal(await store.verifyAdminToken(`${token} `), false);
        assert.equal(await store.verifyAdminToken(''), false);
      });
    });

    describe('failed events', () => {
      beforeEach(async () => {
        await store.bootstrap();
      });

      it('round-trips every field', async () => {
        const row = failed({
          offset: 2 ** 40,
          partition: 3,
          messageId: null,
          payload: '{"event":"ünïcødé \\u0000 ✓","n":1}',
          receivedAt: new Date('2024-05-06T07:08:09.123Z'),
        });
        await store.insertFailedEvents([row]);
        const [got, ...rest] = await store.listFailedEvents();
        assert.equal(rest.length, 0);
        assert.ok(got !== undefined);
        assert.equal(typeof got.id, 'number');
        const { id: _id, ...fields } = got;
        assert.deepEqual(fields, { ...row, replayedAt: null });
      });

      it('is idempotent on (partition, offset)', async () => {
        const batch = [failed({ offset: 1 }), failed({ offset: 2 }), failed({ offset: 2, partition: 1 })];
        await store.insertFailedEvents(batch);
        await store.insertFailedEvents(batch);
        await store.insertFailedEvents([failed({ offset: 2, message: 'changed' }), failed({ offset: 3 })]);
        await store.insertFailedEvents([]);
        const rows = await store.listFailedEvents();
        assert.equal(rows.length, 4);
        assert.ok(rows.every((r) => r.message === 'event has no type'), 'a repeated record keeps the first copy');
        assert.equal(new Set(rows.map((r) => r.id)).size, 4);
      });

      it('lists newest first by receivedAt, then newest id', async () => {
        const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
        await store.insertFailedEvents([failed({ offset: 1, receivedAt: t(20) }), failed({ offset: 2, receivedAt: t(10) })]);
        await store.insertFailedEvents([failed({ offset: 3, receivedAt: t(30) }), failed({ offset: 4, receivedAt: t(20) })]);
        const rows = await store.listFailedEvents();
        assert.deepEqual(rows.map((r) => r.offset), [3, 4, 1, 2]);
      });

      it('filters by source, reason and since, and applies the limit', async () => {
        await store.insertFailedEvents([
          failed({ offset: 1, sourceId: 'src_a', reason: 'WEIR_EVENT_MISSING_TYPE' }),
          failed({ offset: 2, sourceId: 'src_b', reason: 'WEIR_EVENT_MISSING_TYPE' }),
          failed({ offset: 3, sourceId: 'src_a', reason: 'WEIR_EVENT_MISSING_EVENT_NAME' }),
          failed({ offset: 4, sourceId: 'src_b', reason: 'WEIR_EVENT_MISSING_EVENT_NAME' }),
          failed({ offset: 5, sourceId: 'src_a', reason: 'WEIR_EVENT_MISSING_EVENT_NAME' }),
        ]);
        const offsets = async (f: Parameters<StateStore['listFailedEvents']>[0]) => (await store.listFailedEvents(f)).map((r) => r.offset);
        assert.deepEqual(await offsets({ sourceId: 'src_a' }), [5, 3, 1]);
        assert.deepEqual(await offsets({ reason: 'WEIR_EVENT_MISSING_TYPE' }), [2, 1]);
        assert.deepEqual(await offsets({ sourceId: 'src_a', reason: 'WEIR_EVENT_MISSING_EVENT_NAME' }), [5, 3]);
        // since is inclusive
        assert.deepEqual(await offsets({ since: new Date(Date.UTC(2024, 0, 1, 0, 0, 3)) }), [5, 4, 3]);
        assert.deepEqual(await offsets({ since: new Date(Date.UTC(2025, 0, 1)) }), []);
        assert.deepEqual(await offsets({ limit: 2 }), [5, 4]);
        assert.deepEqual(await offsets({ sourceId: 'src_missing' }), []);
      });

      it('returns 100 rows unless asked for another limit', async () => {
        await store.insertFailedEvents(Array.from({ length: 150 }, (_, i) => failed({ offset: i })));
        assert.equal((await store.listFailedEvents()).length, 100);
        assert.equal((await store.listFailedEvents({ limit: 120 })).length, 120);
        assert.equal((await store.listFailedEvents({ limit: 1000 })).length, 150);
        await assert.rejects(store.listFailedEvents({ limit: 0 }), RangeError);
        await assert.rejects(store.listFailedEvents({ limit: 1.5 }), RangeError);
      });

      it('stores large batches in one call', async () => {
        await store.insertFailedEvents(Array.from({ length: 1234 }, (_, i) => failed({ offset: i })));
        assert.equal((await store.countFailedEvents()).get('WEIR_EVENT_MISSING_TYPE'), 1234);
      });

      it('counts per reason with the same filters', async () => {
        await store.insertFailedEvents([
          failed({ offset: 1, sourceId: 'src_a', reason: 'R1' }),
          failed({ offset: 2, sourceId: 'src_a', reason: 'R1' }),
          failed({ offset: 3, sourceId: 'src_b', reason: 'R1' }),
          failed({ offset: 4, sourceId: 'src_a', reason: 'R2' }),
        ]);
        assert.deepEqual(await store.countFailedEvents(), new Map([['R1', 3], ['R2', 1]]));
        assert.deepEqual(await store.countFailedEvents({ sourceId: 'src_a' }), new Map([['R1', 2], ['R2', 1]]));
        assert.deepEqual(await store.countFailedEvents({ reason: 'R2' }), new Map([['R2', 1]]));
        assert.deepEqual(await store.countFailedEvents({ since: new Date(Date.UTC(2024, 0, 1, 0, 0, 3)) }), new Map([['R1', 1], ['R2', 1]]));
        assert.deepEqual(await store.countFailedEvents({ sourceId: 'src_none' }), new Map());
      });

      it('marks replayed events, filters on it, and pages by id', async () => {
        await store.insertFailedEvents(Array.from({ length: 7 }, (_, i) => failed({ offset: i, reason: i % 2 ? 'R1' : 'R2' })));
        const all = await store.listFailedEvents({ afterId: 0, limit: 1000 });
        const ids = all.map((r) => r.id);
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'afterId pages in ascending id order');
        assert.deepEqual((await store.listFailedEvents({ afterId: ids[2]!, limit: 2 })).map((r) => r.id), ids.slice(3, 5));
        assert.deepEqual(await store.listFailedEvents({ afterId: ids[6]! }), []);

        const at = new Date('2026-03-04T05:06:07.089Z');
        await store.markFailedEventsReplayed([ids[0]!, ids[3]!], at);
        await store.markFailedEventsReplayed([], at);
        const replayed = await store.listFailedEvents({ replayed: true });
        assert.deepEqual(replayed.map((r) => r.id).sort((a, b) => a - b), [ids[0], ids[3]]);
        assert.ok(replayed.every((r) => r.replayedAt?.getTime() === at.getTime()));
        assert.equal((await store.listFailedEvents({ replayed: false })).length, 5);
        assert.ok((await store.listFailedEvents({ replayed: false })).every((r) => r.replayedAt === null));
        assert.deepEqual(await store.countFailedEvents({ replayed: false }), new Map([['R1', 2], ['R2', 3]]));
        assert.deepEqual(await store.countFailedEvents({ replayed: true, afterId: ids[0]! }), new Map([['R1', 1]]));
      });
    });

    describe('settings', () => {
      it('fills defaults, changes one setting at a time, and refuses unknown paths and bad values', async () => {
        const { source, workspace } = await store.bootstrap();
        assert.equal(source.settings.warehouseRetentionDays, null);
        assert.equal(source.settings.enrich.ip, 'truncate');
        const changed = await store.updateSourceSettings(source.id, { warehouseRetentionDays: 90, 'enrich.bots': 'fail' });
        assert.equal(changed.settings.warehouseRetentionDays, 90);
        assert.equal(changed.settings.enrich.bots, 'fail');
        assert.equal(changed.settings.enrich.ip, 'truncate');
        assert.deepEqual((await store.getSource(source.id))?.settings, changed.settings);
        await assert.rejects(store.updateSourceSettings(source.id, { 'enrich.nope': 1 }), hasCode('WEIR_API_INVALID_REQUEST'));
        await assert.rejects(store.updateSourceSettings(source.id, { lakeRetentionDays: -1 }), hasCode('WEIR_API_INVALID_REQUEST'));
        await assert.rejects(store.updateSourceSettings('src_missing', { lakeRetentionDays: 1 }), hasCode('WEIR_SOURCE_NOT_FOUND'));
        const ws = await store.updateWorkspaceSettings(workspace.id, { storageQuotaBytes: 1000 });
        assert.equal(ws.settings.storageQuotaBytes, 1000);
        assert.equal((await store.getWorkspace(workspace.id))?.settings.storageQuotaBytes, 1000);
      });
    });

    describe('lake files', () => {
      it('records planned then stored files, filters them, and sums stored bytes per workspace', async () => {
        await store.bootstrap();
        const base = { sourceId: 's1', workspaceId: 'w1', kind: 'events' as const, events: 10, createdAt: new Date() };
        await store.putLakeFile({ ...base, key: 'a', date: '2026-01-01', partition: 0, firstOffset: 0, lastOffset: 9, bytes: 100, state: 'planned' });
        await store.putLakeFile({ ...base, key: 'a', date: '2026-01-01', partition: 0, firstOffset: 0, lastOffset: 9, bytes: 120, state: 'stored' });
        await store.putLakeFile({ ...base, key: 'b', date: '2026-01-02', partition: 0, firstOffset: 10, lastOffset: 19, bytes: 50, state: 'planned' });
        await store.putLakeFile({ ...base, key: 'c', date: '2026-01-02', partition: 1, firstOffset: 0, lastOffset: 4, bytes: 7, state: 'stored', workspaceId: 'w2' });
        assert.deepEqual((await store.listLakeFiles({})).map((f) => f.key), ['a', 'b', 'c']);
        assert.deepEqual((await store.listLakeFiles({ partition: 0, minLastOffset: 10 })).map((f) => f.key), ['b']);
        assert.deepEqual((await store.listLakeFiles({ sinceDate: '2026-01-02' })).map((f) => f.key), ['b', 'c']);
        assert.deepEqual((await store.listLakeFiles({ beforeDate: '2026-01-02', state: 'stored' })).map((f) => f.bytes), [120]);
        assert.equal(await store.lakeBytes('w1'), 120);
        await store.deleteLakeFile('a');
        assert.equal(await store.lakeBytes('w1'), 0);
      });
    });

    describe('usage', () => {
      it('adds counts per source and hour together with the consumer positions', async () => {
        await store.bootstrap();
        const hour = new Date(Date.UTC(2026, 0, 1, 5));
        const row = { sourceId: 's1', workspaceId: 'w1', hour, accepted: 3, failed: 1, bytes: 300 };
        await store.addUsage([row], 'usage', new Map([[0, 4]]));
        await store.addUsage([row, { ...row, sourceId: 's2' }], 'usage', new Map([[0, 9], [1, 2]]));
        const rows = await store.listUsage({ workspaceId: 'w1' });
        assert.deepEqual(
          rows.map((r) => [r.sourceId, r.accepted, r.failed, r.bytes]),
          [['s1', 6, 2, 600], ['s2', 3, 1, 300]],
        );
        assert.deepEqual(await store.consumerPositions('usage'), new Map([[0, 9], [1, 2]]));
        assert.equal(await store.acceptedSince('w1', hour), 9);
        assert.equal(await store.acceptedSince('w1', new Date(Date.UTC(2026, 0, 1, 6))), 0);
      });
    });

    describe('users, memberships and sessions', () => {
      const hash = 'scrypt$16384$8$1$c2FsdA$aGFzaA';

      it('creates users with a case-insensitive unique email and finds them in any case', async () => {
        await store.bootstrap();
        const ann = await store.createUser({ email: 'Ann@Example.COM', passwordHash: hash });
        assert.match(ann.id, /^usr_[A-Za-z0-9]+$/);
        assert.equal(ann.email, 'ann@example.com');
        assert.deepEqual(ann.memberships, []);
        await assert.rejects(store.createUser({ email: 'ANN@example.com', passwordHash: hash }), hasCode('WEIR_USER_EMAIL_TAKEN'));
        const found = await store.userByEmail('aNN@EXAMPLE.com');
        assert.equal(found?.id, ann.id);
        assert.equal(found?.passwordHash, hash);
        assert.equal(await store.userByEmail('bob@example.com'), undefined);
        await store.createUser({ email: 'bob@example.com', passwordHash: hash });
        assert.deepEqual((await store.listUsers()).map((u) => u.email), ['ann@example.com', 'bob@example.com']);
      });

      it('sets one role per user and workspace, replacing the previous one', async () => {
        const { workspace } = await store.bootstrap();
        const acme = await store.createWorkspace('acme');
        const ann = await store.createUser({ email: 'ann@example.com', passwordHash: hash });
        await store.setMembership(ann.id, workspace.id, 'viewer');
        await store.setMembership(ann.id, acme.id, 'editor');
        await store.setMembership(ann.id, workspace.id, 'admin');
        assert.deepEqual((await store.userByEmail(ann.email))?.memberships, [
          { workspaceId: workspace.id, role: 'admin' },
          { workspaceId: acme.id, role: 'editor' },
        ]);
        assert.deepEqual((await store.listUsers())[0]?.memberships.length, 2);
        await assert.rejects(store.setMembership('usr_nobody', workspace.id, 'viewer'), hasCode('WEIR_USER_NOT_FOUND'));
        await assert.rejects(store.setMembership(ann.id, 'ws_nope', 'viewer'), hasCode('WEIR_API_INVALID_REQUEST'));
      });

      it('keeps sessions by id hash until they expire, renews and deletes them', async () => {
        const { workspace } = await store.bootstrap();
        const ann = await store.createUser({ email: 'ann@example.com', passwordHash: hash });
        await store.setMembership(ann.id, workspace.id, 'editor');
        const t0 = new Date(Date.UTC(2026, 0, 1));
        const at = (ms: number) => new Date(t0.getTime() + ms);
        await store.createSession({ idHash: 'h1', userId: ann.id, csrfToken: 'c1', createdAt: t0, expiresAt: at(1000) });
        await store.createSession({ idHash: 'h2', userId: ann.id, csrfToken: 'c2', createdAt: t0, expiresAt: at(5000) });

        const s = await store.getSession('h1', at(500));
        assert.ok(s);
        assert.equal(s.csrfToken, 'c1');
        assert.equal(s.userId, ann.id);
        assert.equal(s.user.email, 'ann@example.com');
        assert.deepEqual(s.user.memberships, [{ workspaceId: workspace.id, role: 'editor' }]);
        assert.deepEqual([s.createdAt, s.lastSeenAt, s.expiresAt], [t0, t0, at(1000)]);
        assert.equal(await store.getSession('h1', at(1000)), undefined, 'expired at its expiry time');
        assert.equal(await store.getSession('nope', at(0)), undefined);

        await store.renewSession('h1', at(900), at(3000));
        const renewed = await store.getSession('h1', at(2000));
        assert.deepEqual([renewed?.lastSeenAt, renewed?.expiresAt], [at(900), at(3000)]);

        assert.equal(await store.deleteExpiredSessions(at(4000)), 1);
        assert.equal(await store.getSession('h1', at(0)), undefined);
        await store.deleteSession('h2');
        assert.equal(await store.getSession('h2', at(0)), undefined);
      });

      it('deletes a user with their memberships and sessions', async () => {
        const { workspace } = await store.bootstrap();
        const ann = await store.createUser({ email: 'ann@example.com', passwordHash: hash });
        await store.setMembership(ann.id, workspace.id, 'admin');
        const now = new Date();
        await store.createSession({ idHash: 'h', userId: ann.id, csrfToken: 'c', createdAt: now, expiresAt: new Date(now.getTime() + 60_000) });
        await store.deleteUser(ann.id);
        assert.equal(await store.userByEmail(ann.email), undefined);
        assert.equal(await store.getSession('h', now), undefined);
        const again = await store.createUser({ email: 'ann@example.com', passwordHash: hash });
        assert.deepEqual(again.memberships, []);
      });

      it('counts sign-in failures per key in a window that restarts once it has passed', async () => {
        await store.bootstrap();
        const t0 = new Date(Date.UTC(2026, 0, 1));
        const at = (ms: number) => new Date(t0.getTime() + ms);
        assert.deepEqual(await store.addLoginFailure('k', t0, 1000), { failures: 1, windowStart: t0 });
        assert.deepEqual(await store.addLoginFailure('k', at(400), 1000), { failures: 2, windowStart: t0 });
        assert.deepEqual(await store.addLoginFailure('other', at(400), 1000), { failures: 1, windowStart: at(400) });
        assert.deepEqual(await store.loginFailures('k', at(900), 1000), { failures: 2, windowStart: t0 });
        assert.equal(await store.loginFailures('k', at(1500), 1000), undefined);
        assert.deepEqual(await store.addLoginFailure('k', at(1500), 1000), { failures: 1, windowStart: at(1500) });
        await Promise.all(Array.from({ length: 5 }, () => store.addLoginFailure('k', at(1600), 1000)));
        assert.equal((await store.loginFailures('k', at(1600), 1000))?.failures, 6);
        await store.clearLoginFailures('k');
        assert.equal(await store.loginFailures('k', at(1600), 1000), undefined);
      });
    });

    describe('failed events of several sources', () => {
      it('filters by a list of source ids; an empty list matches nothing', async () => {
        await store.bootstrap();
        await store.insertFailedEvents([
          failed({ offset: 1, sourceId: 'src_a' }),
          failed({ offset: 2, sourceId: 'src_b' }),
          failed({ offset: 3, sourceId: 'src_c' }),
        ]);
        assert.deepEqual((await store.listFailedEvents({ sourceIds: ['src_a', 'src_c'] })).map((e) => e.sourceId).sort(), ['src_a', 'src_c']);
        assert.deepEqual(await store.listFailedEvents({ sourceIds: [] }), []);
        assert.deepEqual(await store.countFailedEvents({ sourceIds: ['src_b'] }), new Map([['WEIR_EVENT_MISSING_TYPE', 1]]));
      });
    });

    it('close() can be called twice', async () => {
      await store.bootstrap();
      await store.close();
      await store.close();
    });
  });
}
