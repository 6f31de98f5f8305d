import type { Api } from './api';

/** What the shell gives every page: the API client and the workspace and source chosen in the switcher. */
export interface PageContext {
  api: Api;
  workspaceId: string;
  /** The source chosen in the switcher; undefined when the workspace has none. */
  sourceId: string | undefined;
  /** Navigates inside the UI, e.g. `ctx.navigate('/pipelines/runs/42')`. */
  navigate(path: string): void;
}

/**
 * A page of the UI. `path` is matched against the location under `/ui` (a prefix match, so
 * `/pipelines` also gets `/pipelines/runs/42`); `mount` renders into `root` and returns a
 * cleanup function that closes streams and timers when the user leaves the page or switches source.
 *
 * @example
 * ```ts
 * export const sourcesPage: Page = {
 *   path: '/sources', title: 'Sources',
 *   mount(root, ctx) { root.append(h('h1', {}, 'Sources')); return () => {}; },
 * };
 * ```
 */
export interface Page {
  path: string;
  title: string;
  mount(root: HTMLElement, ctx: PageContext): () => void;
}
