import { ApiError } from '../api';
import { copyField } from '../copy';
import { h, replace } from '../dom';
import type { Page } from '../page';
import { listSources, roleIn, type SourceView } from '../session';

function sourceCard(s: SourceView): HTMLElement {
  return h(
    'section',
    { class: 'card source', 'data-source-id': s.id },
    h('h2', {}, s.name),
    h('p', { class: 'muted' }, `${s.id} · created ${new Date(s.createdAt).toLocaleString()}`),
    copyField('Write key', s.writeKey),
    copyField('Tracker snippet', s.snippet, { multiline: true }),
  );
}

function createForm(workspaceId: string, api: import('../api').Api): HTMLElement {
  const name = h('input', { name: 'name', required: true, pattern: '[\\w.\\-]{1,64}', placeholder: 'web', 'aria-label': 'Source name' });
  const message = h('p', { role: 'alert' });
  return h(
    'form',
    {
      class: 'card create-source',
      on: {
        submit: (e) => {
          e.preventDefault();
          api.post<{ source: SourceView }>('/api/sources', { name: name.value, workspaceId }).then(
            ({ source }) => {
              replace(message, `Created ${source.name}.`);
              // The shell refreshes the switcher and mounts this page again with the new list.
              window.dispatchEvent(new Event('weir:sources-changed'));
            },
            (err: unknown) => {
              message.className = 'error';
              replace(message, err instanceof ApiError ? err.message : String(err));
            },
          );
        },
      },
    },
    h('h2', {}, 'New source'),
    h('label', {}, 'Name (letters, digits, _ . -) ', name),
    h('button', { type: 'submit' }, 'Create source'),
    message,
  );
}

/** `/sources`: the workspace's sources with their write keys and tracker snippets; editors create sources. */
export const sourcesPage: Page = {
  path: '/sources',
  title: 'Sources',
  mount(root, ctx) {
    let live = true;
    const list = h('div', { class: 'sources' }, h('p', { class: 'muted' }, 'Loading…'));
    const form = h('div');
    replace(root, h('h1', {}, 'Sources'), form, list);
    Promise.all([listSources(ctx.api, ctx.workspaceId), roleIn(ctx.api, ctx.workspaceId)]).then(
      ([sources, role]) => {
        if (!live) return;
        replace(list, ...(sources.length ? sources.map(sourceCard) : [h('p', { class: 'muted' }, 'No sources in this workspace yet.')]));
        if (role === 'editor' || role === 'admin') replace(form, createForm(ctx.workspaceId, ctx.api));
        else replace(form, h('p', { class: 'muted' }, 'Viewers cannot create sources; ask an editor of this workspace.'));
      },
      (err: unknown) => live && replace(list, h('p', { class: 'error' }, `Could not load sources: ${String(err)}`)),
    );
    return () => {
      live = false;
    };
  },
};
