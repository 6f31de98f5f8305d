import { Api, ApiError } from './api';
import { h, replace } from './dom';
import type { Page, PageContext } from './page';
import { pages } from './pages/index';
import { listSources, loadMe, login, type Me, type SourceView } from './session';
import './style.css';

const BASE = '/ui';
const root = document.getElementById('app')!;
const api = new Api();
let me: Me | undefined;
let sources: SourceView[] = [];
let cleanup: (() => void) | undefined;

/** The switcher's choice survives reloads; it is a preference, not a secret. */
const chosen = {
  get workspace() {
    return localStorage.getItem('weir.workspace') ?? undefined;
  },
  set workspace(v: string | undefined) {
    if (v) localStorage.setItem('weir.workspace', v);
  },
  get source() {
    return localStorage.getItem('weir.source') ?? undefined;
  },
  set source(v: string | undefined) {
    if (v) localStorage.setItem('weir.source', v);
    else localStorage.removeItem('weir.source');
  },
};

function currentPath(): string {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return p === '' ? '/' : p;
}

function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  render();
}

function pageFor(path: string): Page | undefined {
  return pages.find((p) => path === p.path || path.startsWith(`${p.path}/`)) ?? (path === '/' ? pages[0] : undefined);
}

function showLogin(message?: string): void {
  cleanup?.();
  cleanup = undefined;
  me = undefined;
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    {
      class: 'login',
      on: {
        submit: (e) => {
          e.preventDefault();
          login(api, email.value, password.value).then(
            (m) => {
              me = m;
              void start();
            },
            (err: unknown) => replace(error, err instanceof ApiError ? err.message : 'Could not sign in'),
          );
        },
      },
    },
    h('h1', {}, 'Weir'),
    h('label', {}, 'Email', email),
    h('label', {}, 'Password', password),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  replace(root, form);
  email.focus();
}

async function logout(): Promise<void> {
  await api.post('/api/auth/logout').catch(() => undefined);
  chosen.source = undefined;
  showLogin();
}

function header(): HTMLElement {
  const workspaces = me?.workspaces ?? [];
  const workspaceSelect = h(
    'select',
    {
      'aria-label': 'Workspace',
      on: {
        change: () => {
          chosen.workspace = workspaceSelect.value;
          chosen.source = undefined;
          void start();
        },
      },
    },
    ...workspaces.map((w) => h('option', { value: w.id, selected: w.id === chosen.workspace }, w.name)),
  );
  const sourceSelect = h(
    'select',
    {
      'aria-label': 'Source',
      on: {
        change: () => {
          chosen.source = sourceSelect.value;
          render();
        },
      },
    },
    ...sources.map((s) => h('option', { value: s.id, selected: s.id === chosen.source }, s.name)),
  );
  const path = currentPath();
  return h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: `${BASE}/`, on: { click: (e) => (e.preventDefault(), navigate('/')) } }, 'Weir'),
    h(
      'nav',
      {},
      ...pages.map((p) =>
        h(
          'a',
          {
            href: BASE + p.path,
            class: pageFor(path) === p ? 'active' : undefined,
            on: { click: (e) => (e.preventDefault(), navigate(p.path)) },
          },
          p.title,
        ),
      ),
    ),
    h('div', { class: 'switcher' }, workspaceSelect, sourceSelect),
    me?.user ? h('span', { class: 'user' }, me.user.email, ' ', h('button', { type: 'button', on: { click: () => void logout() } }, 'Sign out')) : null,
  );
}

function render(): void {
  cleanup?.();
  cleanup = undefined;
  if (!me) return showLogin();
  const path = currentPath();
  const page = pageFor(path);
  const main = h('main', { class: 'page' });
  replace(root, header(), main);
  if (!page) {
    replace(main, h('h1', {}, 'Not found'), h('p', {}, `No page at ${path}.`));
    return;
  }
  document.title = `${page.title} · Weir`;
  const ctx: PageContext = { api, workspaceId: chosen.workspace!, sourceId: chosen.source, navigate };
  cleanup = page.mount(main, ctx);
}

async function start(): Promise<void> {
  try {
    me ??= await loadMe(api);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    replace(root, h('p', { class: 'error' }, `Weir is not reachable: ${String(err)}`));
    return;
  }
  const ws = me.workspaces;
  if (!ws.some((w) => w.id === chosen.workspace)) chosen.workspace = ws[0]?.id;
  sources = chosen.workspace ? await listSources(api, chosen.workspace) : [];
  if (!sources.some((s) => s.id === chosen.source)) chosen.source = sources[0]?.id;
  render();
}

api.onUnauthorized = () => showLogin('Your session has ended; sign in again.');
window.addEventListener('popstate', render);
/** Pages that change the list of sources (creating one) call this to refresh the switcher. */
window.addEventListener('weir:sources-changed', () => void start());
void start();
