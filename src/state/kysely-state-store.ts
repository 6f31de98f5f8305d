/**
 * The dialect-neutral StateStore: every query lives here, written with Kysely's query builder
 * against {@link Database}. An adapter (`sqlite/`, later `postgres/`) only opens the connection
 * and supplies the few things that really differ between databases ({@link KyselyStateStoreOptions}).
 */
import type { Kysely, SelectQueryBuilder, Transaction } from 'kysely';
import { WeirError } from '../errors/catalogue.js';
import { nameProblem } from './names.js';
import { hashToken, looksLikeAdminToken, newAdminToken, newId, newWriteKey } from './ids.js';
import type { Database } from './schema.js';
import { parseSourceSettings, parseWorkspaceSettings, patchSourceSettings, patchWorkspaceSettings } from './settings.js';
import { ROLES } from './state-store.js';
import type {
  BootstrapResult,
  LoginFailures,
  Membership,
  NewSession,
  Role,
  SessionRecord,
  User,
  UserWithPassword,
  FailedEvent,
  FailedEventFilter,
  LakeFile,
  LakeFileFilter,
  UsageFilter,
  UsageIncrement,
  UsageRow,
  NewFailedEvent,
  Source,
  StateStore,
  Workspace,
} from './state-store.js';

/** The name of the workspace, and of its source, that bootstrap creates. */
export const DEFAULT_NAME = 'default';

const DEFAULT_FAILED_EVENTS_LIMIT = 100;
// 9 bound values per row keeps a chunk far below SQLite's 32766-variable limit and Postgres's
// 65535-parameter limit.
const INSERT_CHUNK_ROWS = 500;

/** What an adapter tells the shared store about its database. */
export interface KyselyStateStoreOptions {
  db: Kysely<Database>;
  /**
   * Applies pending migrations. The adapter decides how concurrent processes are kept apart
   * (SQLite: `BEGIN IMMEDIATE`; Postgres: Kysely's advisory lock).
   */
  migrate(db: Kysely<Database>): Promise<void>;
  /** True when `err` is the driver's unique-constraint violation. */
  isUniqueViolation(err: unknown): boolean;
  /** Releases the connection; called once, by the first `close()`. */
  destroy(): Promise<void>;
}

type Executor = Kysely<Database> | Transaction<Database>;

interface WorkspaceRow {
  id: string;
  name: string;
  created_at: string;
  settings: string;
}

interface SourceRow {
  id: string;
  workspace_id: string;
  name: string;
  write_key: string;
  created_at: string;
  settings: string;
}

const SOURCE_COLUMNS = ['id', 'workspace_id', 'name', 'write_key', 'created_at', 'settings'] as const;
const WORKSPACE_COLUMNS = ['id', 'name', 'created_at', 'settings'] as const;

function toWorkspace(row: WorkspaceRow): Workspace {
  return { id: row.id, name: row.name, createdAt: new Date(row.created_at), settings: parseWorkspaceSettings(row.settings) };
}

function toSource(row: SourceRow): Source {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    writeKey: row.write_key,
    createdAt: new Date(row.created_at),
    settings: parseSourceSettings(row.settings),
  };
}

function toLakeFile(r: {
  key: string;
  source_id: string;
  workspace_id: string;
  kind: string;
  date: string;
  log_partition: number;
  first_offset: number | string | bigint;
  last_offset: number | string | bigint;
  events: number | string | bigint;
  bytes: number | string | bigint;
  state: string;
  created_at: string;
}): LakeFile {
  return {
    key: r.key,
    sourceId: r.source_id,
    workspaceId: r.workspace_id,
    kind: r.kind as LakeFile['kind'],
    date: r.date,
    partition: r.log_partition,
    firstOffset: Number(r.first_offset),
    lastOffset: Number(r.last_offset),
    events: Number(r.events),
    bytes: Number(r.bytes),
    state: r.state as LakeFile['state'],
    createdAt: new Date(r.created_at),
  };
}

/** Emails compare without case: `Ann@Example.com` and `ann@example.com` are one user. */
function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`the metadata store holds an unknown role ${JSON.stringify(role)}`);
  return role as Role;
}

function checkName(kind: 'workspace' | 'source', name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${kind} name ${JSON.stringify(name)} ${problem}` });
  }
}

/** The filters that listing and counting failed events share. */
function whereFailed<O>(
  q: SelectQueryBuilder<Database, 'failed_events', O>,
  filter: Omit<FailedEventFilter, 'limit'>,
): SelectQueryBuilder<Database, 'failed_events', O> {
  if (filter.sourceId !== undefined) q = q.where('source_id', '=', filter.sourceId);
  if (filter.sourceIds !== undefined) {
    const ids = filter.sourceIds;
    q = ids.length === 0 ? q.where((eb) => eb.lit(false)) : q.where('source_id', 'in', ids);
  }
  if (filter.reason !== undefined) q = q.where('reason', '=', filter.reason);
  if (filter.since !== undefined) q = q.where('received_at', '>=', filter.since.toISOString());
  if (filter.replayed !== undefined) q = q.where('replayed_at', filter.replayed ? 'is not' : 'is', null);
  if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
  return q;
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`failed event limit must be a positive integer, got ${limit}`);
  }
}

/**
 * A {@link StateStore} over any Kysely dialect whose schema came from `migrations.ts`.
 *
 * @example
 * ```ts
 * const store = new KyselyStateStore({
 *   db: new Kysely<Database>({ dialect }),
 *   migrate: (db) => migrateToLatest(db, 'postgres'),
 *   isUniqueViolation: (err) => (err as { code?: string }).code === '23505',
 *   destroy: () => db.destroy(),
 * });
 * const { source } = await store.bootstrap();
 * ```
 */
export class KyselyStateStore implements StateStore {
  readonly #db: Kysely<Database>;
  readonly #options: KyselyStateStoreOptions;
  #closed: Promise<void> | undefined;

  constructor(options: KyselyStateStoreOptions) {
    this.#db = options.db;
    this.#options = options;
  }

  async bootstrap(): Promise<BootstrapResult> {
    await this.#options.migrate(this.#db);
    // Every step is an insert that does nothing when the row exists, and the first statement
    // writes: concurrent callers queue on the write lock (SQLite) or on the unique index
    // (Postgres) instead of each reading "nothing yet" and then colliding.
    return this.#db.transaction().execute(async (trx) => {
      const now = new Date().toISOString();
      const inserted = await trx
        .insertInto('workspaces')
        .values({ id: newId('ws'), name: DEFAULT_NAME, created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .executeTakeFirst();
      const workspace = await this.#workspaceByName(trx, DEFAULT_NAME);
      if (workspace === undefined) throw new Error('bootstrap: default workspace missing after insert');

      await trx
        .insertInto('sources')
        .values({ id: newId('src'), workspace_id: workspace.id, name: DEFAULT_NAME, write_key: newWriteKey(), created_at: now })
        .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
        .execute();
      const source = await trx
        .selectFrom('sources')
        .select(SOURCE_COLUMNS)
        .where('workspace_id', '=', workspace.id)
        .where('name', '=', DEFAULT_NAME)
        .executeTakeFirstOrThrow();

      if (inserted === undefined) {
        return { created: false, workspace: toWorkspace(workspace), source: toSource(source) };
      }
      const adminToken = await this.#insertAdminToken(trx);
      return { created: true, workspace: toWorkspace(workspace), source: toSource(source), adminToken };
    });
  }

  async createWorkspace(name: string): Promise<Workspace> {
    checkName('workspace', name);
    const row = { id: newId('ws'), name, created_at: new Date().toISOString(), settings: '{}' };
    try {
      await this.#db.insertInto('workspaces').values(row).execute();
    } catch (err) {
      if (this.#options.isUniqueViolation(err)) {
        throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `a workspace named ${name} already exists` }, { cause: err });
      }
      throw err;
    }
    return toWorkspace(row);
  }

  async listWorkspaces(): Promise<Workspace[]> {
    const rows = await this.#db.selectFrom('workspaces').select(WORKSPACE_COLUMNS).orderBy('created_at').orderBy('name').execute();
    return rows.map(toWorkspace);
  }

  async defaultWorkspace(): Promise<Workspace> {
    const row = await this.#workspaceByName(this.#db, DEFAULT_NAME);
    if (row === undefined) throw new Error('the metadata store has no default workspace: call bootstrap() first');
    return toWorkspace(row);
  }

  async createSource(input: { workspaceId: string; name: string }): Promise<Source> {
    checkName('source', input.name);
    const workspace = await this.#db.selectFrom('workspaces').select('id').where('id', '=', input.workspaceId).executeTakeFirst();
    // Workspaces are never deleted, so checking first leaves no race worth a transaction.
    if (workspace === undefined) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `no workspace ${input.workspaceId}` });
    }
    const row: SourceRow = {
      id: newId('src'),
      workspace_id: input.workspaceId,
      name: input.name,
      write_key: newWriteKey(),
      created_at: new Date().toISOString(),
      settings: '{}',
    };
    try {
      await this.#db.insertInto('sources').values(row).execute();
    } catch (err) {
      // The unique index, not a prior lookup, decides: two concurrent creates cannot both win.
      if (this.#options.isUniqueViolation(err) && (await this.#sourceInWorkspace(input.workspaceId, input.name))) {
        throw new WeirError('WEIR_SOURCE_NAME_TAKEN', { name: input.name }, { cause: err });
      }
      throw err;
    }
    return toSource(row);
  }

  async listSources(workspaceId?: string): Promise<Source[]> {
    let q = this.#db.selectFrom('sources').select(SOURCE_COLUMNS);
    if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
    // Name breaks ties between sources created in the same millisecond, so listings are stable.
    const rows = await q.orderBy('created_at').orderBy('name').execute();
    return rows.map(toSource);
  }

  async getSource(idOrName: string): Promise<Source | undefined> {
    const byId = await this.#db.selectFrom('sources').select(SOURCE_COLUMNS).where('id', '=', idOrName).executeTakeFirst();
    if (byId !== undefined) return toSource(byId);
    const byName = await this.#db
      .selectFrom('sources')
      .innerJoin('workspaces', 'workspaces.id', 'sources.workspace_id')
      .select([
        'sources.id',
        'sources.workspace_id',
        'sources.name',
        'sources.write_key',
        'sources.created_at',
        'sources.settings',
        'workspaces.name as workspace_name',
      ])
      .where('sources.name', '=', idOrName)
      .execute();
    if (byName.length === 1) return toSource(byName[0]!);
    const inDefault = byName.find((r) => r.workspace_name === DEFAULT_NAME);
    return inDefault === undefined ? undefined : toSource(inDefault);
  }

  async sourceByWriteKey(writeKey: string): Promise<Source | undefined> {
    const row = await this.#db.selectFrom('sources').select(SOURCE_COLUMNS).where('write_key', '=', writeKey).executeTakeFirst();
    return row === undefined ? undefined : toSource(row);
  }

  async createAdminToken(): Promise<string> {
    return this.#insertAdminToken(this.#db);
  }

  async verifyAdminToken(token: string): Promise<boolean> {
    if (!looksLikeAdminToken(token)) return false;
    // A lookup by hash leaks nothing useful through timing: the hash of a guess says nothing
    // about how close the guess is to a stored token.
    const row = await this.#db.selectFrom('admin_tokens').select('id').where('token_hash', '=', hashToken(token)).executeTakeFirst();
    return row !== undefined;
  }

  async insertFailedEvents(rows: NewFailedEvent[]): Promise<void> {
    if (rows.length === 0) return;
    const createdAt = new Date().toISOString();
    const values = rows.map((r) => ({
      source_id: r.sourceId,
      reason: r.reason,
      message: r.message,
      message_id: r.messageId,
      payload: r.payload,
      received_at: r.receivedAt.toISOString(),
      log_partition: r.partition,
      log_offset: r.offset,
      created_at: createdAt,
    }));
    await this.#db.transaction().execute(async (trx) => {
      for (let i = 0; i < values.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto('failed_events')
          .values(values.slice(i, i + INSERT_CHUNK_ROWS))
          .onConflict((oc) => oc.columns(['log_partition', 'log_offset']).doNothing())
          .execute();
      }
    });
  }

  async listFailedEvents(filter: FailedEventFilter = {}): Promise<FailedEvent[]> {
    const limit = filter.limit ?? DEFAULT_FAILED_EVENTS_LIMIT;
    checkLimit(limit);
    const q = whereFailed(
      this.#db
        .selectFrom('failed_events')
        .select(['id', 'source_id', 'reason', 'message', 'message_id', 'payload', 'received_at', 'log_partition', 'log_offset', 'replayed_at']),
      filter,
    );
    const ordered = filter.afterId === undefined ? q.orderBy('received_at', 'desc').orderBy('id', 'desc') : q.orderBy('id', 'asc');
    const rows = await ordered.limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      sourceId: r.source_id,
      reason: r.reason,
      message: r.message,
      messageId: r.message_id,
      payload: r.payload,
      receivedAt: new Date(r.received_at),
      partition: r.log_partition,
      offset: Number(r.log_offset),
      replayedAt: r.replayed_at === null ? null : new Date(r.replayed_at),
    }));
  }

  async countFailedEvents(filter: Omit<FailedEventFilter, 'limit'> = {}): Promise<Map<string, number>> {
    const q = whereFailed(this.#db.selectFrom('failed_events').select((eb) => ['reason', eb.fn.countAll().as('n')]), filter);
    const rows = await q.groupBy('reason').orderBy('reason').execute();
    return new Map(rows.map((r) => [r.reason, Number(r.n)]));
  }

  async markFailedEventsReplayed(ids: number[], at: Date): Promise<void> {
    const replayedAt = at.toISOString();
    await this.#db.transaction().execute(async (trx) => {
      for (let i = 0; i < ids.length; i += INSERT_CHUNK_ROWS) {
        await trx.updateTable('failed_events').set({ replayed_at: replayedAt }).where('id', 'in', ids.slice(i, i + INSERT_CHUNK_ROWS)).execute();
      }
    });
  }

  async updateSourceSettings(sourceId: string, changes: Record<string, unknown>): Promise<Source> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('sources').select(SOURCE_COLUMNS).where('id', '=', sourceId).executeTakeFirst();
      if (row === undefined) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: sourceId });
      const settings = JSON.stringify(patchSourceSettings(toSource(row).settings, changes));
      await trx.updateTable('sources').set({ settings }).where('id', '=', sourceId).execute();
      return toSource({ ...row, settings });
    });
  }

  async getWorkspace(id: string): Promise<Workspace | undefined> {
    const row = await this.#db.selectFrom('workspaces').select(WORKSPACE_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toWorkspace(row);
  }

  async updateWorkspaceSettings(workspaceId: string, changes: Record<string, unknown>): Promise<Workspace> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('workspaces').select(WORKSPACE_COLUMNS).where('id', '=', workspaceId).executeTakeFirst();
      if (row === undefined) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `no workspace ${workspaceId}` });
      const settings = JSON.stringify(patchWorkspaceSettings(toWorkspace(row).settings, changes));
      await trx.updateTable('workspaces').set({ settings }).where('id', '=', workspaceId).execute();
      return toWorkspace({ ...row, settings });
    });
  }

  async putLakeFile(f: LakeFile): Promise<void> {
    const row = {
      key: f.key,
      source_id: f.sourceId,
      workspace_id: f.workspaceId,
      kind: f.kind,
      date: f.date,
      log_partition: f.partition,
      first_offset: f.firstOffset,
      last_offset: f.lastOffset,
      events: f.events,
      bytes: f.bytes,
      state: f.state,
      created_at: f.createdAt.toISOString(),
    };
    await this.#db
      .insertInto('lake_files')
      .values(row)
      .onConflict((oc) => oc.column('key').doUpdateSet({ events: row.events, bytes: row.bytes, state: row.state, last_offset: row.last_offset }))
      .execute();
  }

  async listLakeFiles(filter: LakeFileFilter): Promise<LakeFile[]> {
    let q = this.#db.selectFrom('lake_files').selectAll();
    if (filter.sourceId !== undefined) q = q.where('source_id', '=', filter.sourceId);
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.partition !== undefined) q = q.where('log_partition', '=', filter.partition);
    if (filter.minLastOffset !== undefined) q = q.where('last_offset', '>=', filter.minLastOffset);
    if (filter.sinceDate !== undefined) q = q.where('date', '>=', filter.sinceDate);
    if (filter.beforeDate !== undefined) q = q.where('date', '<', filter.beforeDate);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    const rows = await q.orderBy('key').execute();
    return rows.map(toLakeFile);
  }

  async deleteLakeFile(key: string): Promise<void> {
    await this.#db.deleteFrom('lake_files').where('key', '=', key).execute();
  }

  async lakeBytes(workspaceId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('lake_files')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), eb.val(0)).as('n'))
      .where('workspace_id', '=', workspaceId)
      .where('state', '=', 'stored')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async addUsage(rows: UsageIncrement[], consumer: string, positions: Map<number, number>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const r of rows) {
        await trx
          .insertInto('usage_hourly')
          .values({
            source_id: r.sourceId,
            workspace_id: r.workspaceId,
            hour: r.hour.toISOString(),
            accepted: r.accepted,
            failed: r.failed,
            bytes: r.bytes,
          })
          .onConflict((oc) =>
            oc.columns(['source_id', 'hour']).doUpdateSet((eb) => ({
              accepted: eb('usage_hourly.accepted', '+', eb.ref('excluded.accepted')),
              failed: eb('usage_hourly.failed', '+', eb.ref('excluded.failed')),
              bytes: eb('usage_hourly.bytes', '+', eb.ref('excluded.bytes')),
            })),
          )
          .execute();
      }
      for (const [partition, next] of positions) {
        await trx
          .insertInto('consumer_positions')
          .values({ consumer, log_partition: partition, next_offset: next })
          .onConflict((oc) => oc.columns(['consumer', 'log_partition']).doUpdateSet({ next_offset: next }))
          .execute();
      }
    });
  }

  async consumerPositions(consumer: string): Promise<Map<number, number>> {
    const rows = await this.#db.selectFrom('consumer_positions').select(['log_partition', 'next_offset']).where('consumer', '=', consumer).execute();
    return new Map(rows.map((r) => [r.log_partition, Number(r.next_offset)]));
  }

  async listUsage(filter: UsageFilter): Promise<UsageRow[]> {
    let q = this.#db.selectFrom('usage_hourly').selectAll();
    if (filter.workspaceId !== undefined) q = q.where('workspace_id', '=', filter.workspaceId);
    if (filter.sourceId !== undefined) q = q.where('source_id', '=', filter.sourceId);
    if (filter.since !== undefined) q = q.where('hour', '>=', filter.since.toISOString());
    if (filter.until !== undefined) q = q.where('hour', '<', filter.until.toISOString());
    const rows = await q.orderBy('hour').orderBy('source_id').execute();
    return rows.map((r) => ({
      sourceId: r.source_id,
      workspaceId: r.workspace_id,
      hour: new Date(r.hour),
      accepted: Number(r.accepted),
      failed: Number(r.failed),
      bytes: Number(r.bytes),
    }));
  }

  async acceptedSince(workspaceId: string, since: Date): Promise<number> {
    const row = await this.#db
      .selectFrom('usage_hourly')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('accepted'), eb.val(0)).as('n'))
      .where('workspace_id', '=', workspaceId)
      .where('hour', '>=', since.toISOString())
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async createUser(input: { email: string; passwordHash: string }): Promise<User> {
    const row = { id: newId('usr'), email: normaliseEmail(input.email), password_hash: input.passwordHash, created_at: new Date().toISOString() };
    try {
      await this.#db.insertInto('users').values(row).execute();
    } catch (err) {
      if (this.#options.isUniqueViolation(err)) throw new WeirError('WEIR_USER_EMAIL_TAKEN', { email: row.email }, { cause: err });
      throw err;
    }
    return { id: row.id, email: row.email, createdAt: new Date(row.created_at), memberships: [] };
  }

  async userByEmail(email: string): Promise<UserWithPassword | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('email', '=', normaliseEmail(email)).executeTakeFirst();
    if (row === undefined) return undefined;
    const memberships = await this.#memberships([row.id]);
    return {
      id: row.id,
      email: row.email,
      createdAt: new Date(row.created_at),
      memberships: memberships.get(row.id) ?? [],
      passwordHash: row.password_hash,
    };
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.#db.selectFrom('users').select(['id', 'email', 'created_at']).orderBy('email').execute();
    const memberships = await this.#memberships(rows.map((r) => r.id));
    return rows.map((r) => ({ id: r.id, email: r.email, createdAt: new Date(r.created_at), memberships: memberships.get(r.id) ?? [] }));
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
      await trx.deleteFrom('memberships').where('user_id', '=', userId).execute();
      await trx.deleteFrom('users').where('id', '=', userId).execute();
    });
  }

  async setMembership(userId: string, workspaceId: string, role: Role): Promise<void> {
    toRole(role);
    const user = await this.#db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst();
    if (user === undefined) throw new WeirError('WEIR_USER_NOT_FOUND', { email: userId });
    if ((await this.getWorkspace(workspaceId)) === undefined) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `no workspace ${workspaceId}` });
    }
    await this.#db
      .insertInto('memberships')
      .values({ user_id: userId, workspace_id: workspaceId, role })
      .onConflict((oc) => oc.columns(['user_id', 'workspace_id']).doUpdateSet({ role }))
      .execute();
  }

  async createSession(session: NewSession): Promise<void> {
    const created = session.createdAt.toISOString();
    await this.#db
      .insertInto('sessions')
      .values({
        id_hash: session.idHash,
        user_id: session.userId,
        csrf_token: session.csrfToken,
        created_at: created,
        expires_at: session.expiresAt.toISOString(),
        last_seen_at: created,
      })
      .execute();
  }

  async getSession(idHash: string, now: Date): Promise<SessionRecord | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id_hash',
        'sessions.user_id',
        'sessions.csrf_token',
        'sessions.created_at',
        'sessions.expires_at',
        'sessions.last_seen_at',
        'users.email',
        'users.created_at as user_created_at',
      ])
      .where('sessions.id_hash', '=', idHash)
      .where('sessions.expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const memberships = await this.#memberships([row.user_id]);
    return {
      idHash: row.id_hash,
      userId: row.user_id,
      csrfToken: row.csrf_token,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      lastSeenAt: new Date(row.last_seen_at),
      user: { id: row.user_id, email: row.email, createdAt: new Date(row.user_created_at), memberships: memberships.get(row.user_id) ?? [] },
    };
  }

  async renewSession(idHash: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({ last_seen_at: lastSeenAt.toISOString(), expires_at: expiresAt.toISOString() })
      .where('id_hash', '=', idHash)
      .execute();
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('expires_at', '<=', now.toISOString()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async addLoginFailure(key: string, at: Date, windowMs: number): Promise<LoginFailures> {
    const cutoff = new Date(at.getTime() - windowMs).toISOString();
    const row = await this.#db
      .insertInto('login_failures')
      .values({ key, window_start: at.toISOString(), failures: 1 })
      .onConflict((oc) =>
        // Both expressions read the row as it was, so a stale window restarts at this failure.
        oc.column('key').doUpdateSet((eb) => ({
          failures: eb.case().when('login_failures.window_start', '<', cutoff).then(1).else(eb('login_failures.failures', '+', 1)).end(),
          window_start: eb
            .case()
            .when('login_failures.window_start', '<', cutoff)
            .then(eb.ref('excluded.window_start'))
            .else(eb.ref('login_failures.window_start'))
            .end(),
        })),
      )
      .returning(['failures', 'window_start'])
      .executeTakeFirstOrThrow();
    return { failures: Number(row.failures), windowStart: new Date(row.window_start) };
  }

  async loginFailures(key: string, now: Date, windowMs: number): Promise<LoginFailures | undefined> {
    const row = await this.#db
      .selectFrom('login_failures')
      .select(['failures', 'window_start'])
      .where('key', '=', key)
      .where('window_start', '>=', new Date(now.getTime() - windowMs).toISOString())
      .executeTakeFirst();
    return row === undefined ? undefined : { failures: Number(row.failures), windowStart: new Date(row.window_start) };
  }

  async clearLoginFailures(key: string): Promise<void> {
    await this.#db.deleteFrom('login_failures').where('key', '=', key).execute();
  }

  close(): Promise<void> {
    this.#closed ??= this.#options.destroy();
    return this.#closed;
  }

  #workspaceByName(db: Executor, name: string): Promise<WorkspaceRow | undefined> {
    return db.selectFrom('workspaces').select(WORKSPACE_COLUMNS).where('name', '=', name).executeTakeFirst();
  }

  async #sourceInWorkspace(workspaceId: string, name: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('sources')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Memberships of these users, ordered by workspace creation, keyed by user id. */
  async #memberships(userIds: string[]): Promise<Map<string, Membership[]>> {
    const out = new Map<string, Membership[]>();
    if (userIds.length === 0) return out;
    for (let i = 0; i < userIds.length; i += INSERT_CHUNK_ROWS) {
      const rows = await this.#db
        .selectFrom('memberships')
        .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
        .select(['memberships.user_id', 'memberships.workspace_id', 'memberships.role'])
        .where('memberships.user_id', 'in', userIds.slice(i, i + INSERT_CHUNK_ROWS))
        .orderBy('workspaces.created_at')
        .orderBy('workspaces.name')
        .execute();
      for (const r of rows) {
        const list = out.get(r.user_id) ?? [];
        list.push({ workspaceId: r.workspace_id, role: toRole(r.role) });
        out.set(r.user_id, list);
      }
    }
    return out;
  }

  async #insertAdminToken(db: Executor): Promise<string> {
    const token = newAdminToken();
    await db
      .insertInto('admin_tokens')
      .values({ id: newId('adm'), token_hash: hashToken(token), created_at: new Date().toISOString() })
      .execute();
    return token;
  }
}
