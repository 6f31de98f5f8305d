import type { Api } from './api';

/** A workspace the signed-in user belongs to, with their role in it. */
export interface WorkspaceView {
  id: string;
  name: string;
  role: 'viewer' | 'editor' | 'admin';
}

/** `GET /api/auth/me` and `POST /api/auth/login` answer with this. `user` is null for an admin token. */
export interface Me {
  user: { id: string; email: string } | null;
  csrfToken: string | null;
  workspaces: WorkspaceView[];
}

export interface SourceView {
  id: string;
  workspaceId: string;
  name: string;
  writeKey: string;
  createdAt: string;
  /** The tracker's `<script>` tag for this host. */
  snippet: string;
}

export async function loadMe(api: Api): Promise<Me> {
  const me = await api.get<Me>('/api/auth/me');
  api.csrfToken = me.csrfToken ?? undefined;
  return me;
}

export async function login(api: Api, email: string, password: string): Promise<Me> {
  const me = await api.post<Me>('/api/auth/login', { email, password });
  api.csrfToken = me.csrfToken ?? undefined;
  return me;
}

/** The caller's role in a workspace (undefined when they have none). */
export async function roleIn(api: Api, workspaceId: string): Promise<WorkspaceView['role'] | undefined> {
  const { workspaces } = await api.get<{ workspaces: WorkspaceView[] }>('/api/workspaces');
  return workspaces.find((w) => w.id === workspaceId)?.role;
}

export async function listSources(api: Api, workspaceId: string): Promise<SourceView[]> {
  const { sources } = await api.get<{ sources: SourceView[] }>(`/api/sources?workspace=${encodeURIComponent(workspaceId)}`);
  return sources;
}
