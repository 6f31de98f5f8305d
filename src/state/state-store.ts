/**
 * The StateStore port: Weir's metadata (workspaces, sources and their write keys, admin tokens,
 * failed events). Embedded default: SQLite through Kysely (`sqlite/`); Postgres follows with the
 * same Kysely schema. Every adapter passes `test/contract/state-store.contract.ts`.
 *
 * @example
 * ```ts
 * const state = await openSqliteStateStore({ file: '.weir/weir.sqlite' });
 * const first = await state.bootstrap(); // default workspace + source + admin token on first start
 * const source = await state.sourceByWriteKey(first.source.writeKey);
 * ```
 */
import type { SourceSettings, WorkspaceSettings } from './settings.js';

export interface StateStore {
  /**
   * Applies migrations, then creates the default workspace, its default source and an admin
   * token if none exist yet. `created` is true only on that first call; `adminToken` (the plain
   * token, stored hashed) is returned only then.
   */
  bootstrap(): Promise<BootstrapResult>;

  createWorkspace(name: string): Promise<Workspace>;
  listWorkspaces(): Promise<Workspace[]>;
  /** The workspace created by bootstrap. */
  defaultWorkspace(): Promise<Workspace>;

  /** Creates a source with a fresh write key. Throws `WEIR_SOURCE_NAME_TAKEN` on a duplicate name. */
  createSource(input: { workspaceId: string; name: string }): Promise<Source>;
  listSources(workspaceId?: string): Promise<Source[]>;
  /** By id or by name (within the default workspace when the name is ambiguous). */
  getSource(idOrName: string): Promise<Source | undefined>;
  sourceByWriteKey(writeKey: string): Promise<Source | undefined>;

  /** Creates an admin token and returns it in plain text once; only its hash is stored. */
  createAdminToken(): Promise<string>;
  verifyAdminToken(token: string): Promise<boolean>;

  /**
   * Stores failed events. Idempotent on (partition, offset): storing the same log record twice
   * keeps one row.
   */
  insertFailedEvents(rows: NewFailedEvent[]): Promise<void>;
  listFailedEvents(filter?: FailedEventFilter): Promise<FailedEvent[]>;
  /** Failed events per reason code. */
  countFailedEvents(filter?: Omit<FailedEventFilter, 'limit'>): Promise<Map<string, number>>;
  /** Records that these failed events were replayed into the event log at `at`. */
  markFailedEventsReplayed(ids: number[], at: Date): Promise<void>;

  /** Changes some settings of a source (dotted paths, e.g. `enrich.ip`), validated as a whole. */
  updateSourceSettings(sourceId: string, changes: Record<string, unknown>): Promise<Source>;
  getWorkspace(id: string): Promise<Workspace | undefined>;
  updateWorkspaceSettings(workspaceId: string, changes: Record<string, unknown>): Promise<Workspace>;

  /** Records (or updates, by key) a lake object: planned before its upload, `stored` after. */
  putLakeFile(file: LakeFile): Promise<void>;
  listLakeFiles(filter: LakeFileFilter): Promise<LakeFile[]>;
  deleteLakeFile(key: string): Promise<void>;
  /** Bytes of stored lake objects of a workspace (events and uploads). */
  lakeBytes(workspaceId: string): Promise<number>;

  /**
   * Adds usage counts and moves a consumer's saved positions in one transaction, so counting
   * from the log is exactly-once across restarts.
   */
  addUsage(rows: UsageIncrement[], consumer: string, positions: Map<number, number>): Promise<void>;
  consumerPositions(consumer: string): Promise<Map<number, number>>;
  listUsage(filter: UsageFilter): Promise<UsageRow[]>;
  /** Accepted events of a workspace since `since` (the monthly quota). */
  acceptedSince(workspaceId: string, since: Date): Promise<number>;

  /**
   * Creates a user of the web UI. The email is stored lower-cased: it is unique regardless of
   * case (`WEIR_USER_EMAIL_TAKEN`). The store never sees a password, only its hash.
   */
  createUser(input: { email: string; passwordHash: string }): Promise<User>;
  /** A user with their password hash, by email in any case. */
  userByEmail(email: string): Promise<UserWithPassword | undefined>;
  listUsers(): Promise<User[]>;
  /** Deletes a user with their memberships and sessions. */
  deleteUser(userId: string): Promise<void>;
  /** Gives a user a role in a workspace, replacing the role they had there. */
  setMembership(userId: string, workspaceId: string, role: Role): Promise<void>;

  createSession(session: NewSession): Promise<void>;
  /** A session that has not expired at `now`, with its user and their roles. */
  getSession(idHash: string, now: Date): Promise<SessionRecord | undefined>;
  /** Sliding expiry: records a use and moves the expiry. */
  renewSession(idHash: string, lastSeenAt: Date, expiresAt: Date): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Removes sessions that expired before `now`; returns how many. */
  deleteExpiredSessions(now: Date): Promise<number>;

  /**
   * Counts a failed sign-in for a throttle key in one statement (so concurrent processes never
   * lose a count): a window older than `windowMs` starts again at 1.
   */
  addLoginFailure(key: string, at: Date, windowMs: number): Promise<LoginFailures>;
  /** The failures of the key's current window, if it is younger than `windowMs` at `now`. */
  loginFailures(key: string, now: Date, windowMs: number): Promise<LoginFailures | undefined>;
  clearLoginFailures(key: string): Promise<void>;

  close(): Promise<void>;
}

/** Roles per workspace, weakest first: a viewer reads, an editor also changes, an admin also manages users. */
export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Membership {
  workspaceId: string;
  role: Role;
}

export interface User {
  id: string;
  /** Lower-cased. */
  email: string;
  createdAt: Date;
  memberships: Membership[];
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

export interface NewSession {
  /** sha256 hex of the session id; the id itself is never stored. */
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface SessionRecord extends NewSession {
  lastSeenAt: Date;
  user: User;
}

export interface LoginFailures {
  failures: number;
  windowStart: Date;
}

export interface LakeFile {
  key: string;
  sourceId: string;
  workspaceId: string;
  kind: 'events' | 'upload';
  /** YYYY-MM-DD. */
  date: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  events: number;
  bytes: number;
  state: 'planned' | 'stored';
  createdAt: Date;
}

export interface LakeFileFilter {
  sourceId?: string;
  kind?: 'events' | 'upload';
  /** Files of this log partition whose last offset is at least `minLastOffset`. */
  partition?: number;
  minLastOffset?: number;
  /** Dates in [sinceDate, beforeDate). */
  sinceDate?: string;
  beforeDate?: string;
  state?: 'planned' | 'stored';
}

export interface UsageIncrement {
  sourceId: string;
  workspaceId: string;
  /** Start of the hour. */
  hour: Date;
  accepted: number;
  failed: number;
  bytes: number;
}

export type UsageRow = UsageIncrement;

export interface UsageFilter {
  workspaceId?: string;
  sourceId?: string;
  since?: Date;
  until?: Date;
}

export interface BootstrapResult {
  created: boolean;
  workspace: Workspace;
  source: Source;
  adminToken?: string;
}

export interface Workspace {
  id: string;
  name: string;
  createdAt: Date;
  settings: WorkspaceSettings;
}

export interface Source {
  id: string;
  workspaceId: string;
  name: string;
  writeKey: string;
  createdAt: Date;
  settings: SourceSettings;
}

export interface NewFailedEvent {
  sourceId: string;
  /** Stable reason code, e.g. `WEIR_EVENT_MISSING_EVENT_NAME`. */
  reason: string;
  message: string;
  messageId: string | null;
  /** The item as received, JSON text. */
  payload: string;
  receivedAt: Date;
  partition: number;
  offset: number;
}

export interface FailedEvent extends NewFailedEvent {
  id: number;
  /** When `weir failed replay` last appended it to the event log; null if never. */
  replayedAt: Date | null;
}

export interface FailedEventFilter {
  sourceId?: string;
  /** Only events of these sources (an empty list matches nothing). */
  sourceIds?: string[];
  reason?: string;
  since?: Date;
  /** Only replayed (true) or never replayed (false) events. */
  replayed?: boolean;
  /**
   * Paging for work over every match: only ids above this one, in ascending id order instead of
   * newest first.
   */
  afterId?: number;
  /** Default 100. */
  limit?: number;
}
