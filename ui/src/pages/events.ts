import { ApiError, type Api } from '../api';
import { formatNumber, h, replace } from '../dom';
import type { Page, PageContext } from '../page';
import { roleIn } from '../session';

interface FailedEventView {
  id: number;
  reason: string;
  message: string;
  receivedAt: string;
  replayedAt: string | null;
  payload: unknown;
}

interface ReplaySummary {
  examined: number;
  valid: number;
  stillFailing: Record<string, number>;
  nextAfterId: number | null;
}

/** One accepted event as `GET /api/events/tail` streams it. */
interface TailEvent {
  messageId: string;
  type: string;
  event?: string | null;
  name?: string | null;
  receivedAt: string;
  anonymousId?: string | null;
  userId?: string | null;
  properties?: unknown;
  context?: unknown;
}

const MAX_TAIL_ROWS = 200;

function pretty(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** The "Failed" tab: failed events of the source by reason, and replay for editors. */
function failedTab(root: HTMLElement, api: Api, sourceId: string, canReplay: boolean): () => void {
  let live = true;
  let reason = '';
  const picker = h('select', { 'aria-label': 'Reason', on: { change: () => ((reason = picker.value), void load()) } });
  const summary = h('div', { class: 'replay-summary', role: 'status' });
  const table = h('div', { class: 'failed-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const replayButton = h('button', { type: 'button', on: { click: () => void replay() } }, 'Replay');

  async function load(): Promise<void> {
    const q = new URLSearchParams({ source: sourceId, limit: '100' });
    if (reason) q.set('reason', reason);
    let data: { failedEvents: FailedEventView[]; reasons: Record<string, number> };
    try {
      data = await api.get(`/api/failed-events?${q}`);
    } catch (err) {
      if (live) replace(table, h('p', { class: 'error' }, `Could not load failed events: ${String(err)}`));
      return;
    }
    if (!live) return;
    const total = Object.values(data.reasons).reduce((a, b) => a + b, 0);
    replace(
      picker,
      h('option', { value: '', selected: reason === '' }, `All reasons (${formatNumber(total)})`),
      ...Object.entries(data.reasons).map(([code, n]) => h('option', { value: code, selected: code === reason }, `${code} (${formatNumber(n)})`)),
    );
    if (data.failedEvents.length === 0) {
      replace(table, h('p', { class: 'muted' }, 'No failed events.'));
      return;
    }
    replace(
      table,
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Received'), h('th', {}, 'Reason'), h('th', {}, 'Message'), h('th', {}, 'Payload'))),
        h(
          'tbody',
          {},
          ...data.failedEvents.map((e) =>
            h(
              'tr',
              { class: 'failed-event' },
              h('td', {}, when(e.receivedAt), e.replayedAt ? h('div', { class: 'muted' }, `replayed ${when(e.replayedAt)}`) : null),
              h('td', {}, h('code', {}, e.reason)),
              h('td', {}, e.message),
              h('td', {}, h('pre', {}, pretty(e.payload))),
            ),
          ),
        ),
      ),
    );
  }

  /** Replays the shown filter step by step (each request stays short) and sums the steps. */
  async function replay(): Promise<void> {
    replayButton.disabled = true;
    const total: ReplaySummary = { examined: 0, valid: 0, stillFailing: {}, nextAfterId: null };
    replace(summary, 'Replaying…');
    try {
      let afterId: number | undefined;
      do {
        const step = await api.post<ReplaySummary>('/api/failed-events/replay', { source: sourceId, reason: reason || undefined, afterId });
        total.examined += step.examined;
        total.valid += step.valid;
        for (const [code, n] of Object.entries(step.stillFailing)) total.stillFailing[code] = (total.stillFailing[code] ?? 0) + n;
        afterId = step.nextAfterId ?? undefined;
        if (!live) return;
        replace(summary, `Replaying… ${formatNumber(total.examined)} examined`);
      } while (afterId !== undefined);
      const failing = Object.entries(total.stillFailing);
      replace(
        summary,
        h('p', {}, `Examined ${formatNumber(total.examined)}, valid now ${formatNumber(total.valid)}, still failing ${formatNumber(failing.reduce((a, [, n]) => a + n, 0))}.`),
        failing.length
          ? h('ul', {}, ...failing.map(([code, n]) => h('li', {}, h('code', {}, code), `: ${formatNumber(n)}`)))
          : null,
      );
      await load();
    } catch (err) {
      if (live) replace(summary, h('p', { class: 'error' }, `Replay failed: ${err instanceof ApiError ? err.message : String(err)}`));
    } finally {
      replayButton.disabled = false;
    }
  }

  replace(
    root,
    h('div', { class: 'toolbar' }, h('label', {}, 'Reason ', picker), canReplay ? replayButton : h('span', { class: 'muted' }, 'Editors can replay failed events.')),
    summary,
    table,
  );
  void load();
  return () => {
    live = false;
  };
}

function tailRow(e: TailEvent): HTMLElement {
  const who = e.userId ? `user ${e.userId}` : e.anonymousId ? `anon ${e.anonymousId}` : '';
  return h(
    'tr',
    { class: 'tail-event' },
    h('td', {}, when(e.receivedAt)),
    h('td', {}, e.type),
    h('td', {}, e.event ?? e.name ?? ''),
    h('td', {}, who),
    h('td', {}, h('pre', {}, JSON.stringify(e.properties ?? {}))),
    h('td', {}, h('details', {}, h('summary', {}, 'context'), h('pre', {}, pretty(e.context ?? {})))),
  );
}

/** The "Live tail" tab: recent accepted events of the source over SSE, newest first. */
function tailTab(root: HTMLElement, sourceId: string): () => void {
  let source: EventSource | undefined;
  let paused = false;
  let held: TailEvent[] = [];
  const abort = new AbortController();
  const status = h('p', { class: 'muted', role: 'status' }, 'Connecting…');
  const body = h('tbody');
  const pause = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      on: {
        click: () => {
          paused = !paused;
          replace(pause, paused ? 'Resume' : 'Pause');
          if (!paused) {
            show(held);
            held = [];
          }
        },
      },
    },
    'Pause',
  );
  function show(events: TailEvent[]): void {
    // Messages list oldest first; the table shows newest first.
    for (const e of events) body.insertBefore(tailRow(e), body.firstChild);
    while (body.childElementCount > MAX_TAIL_ROWS) body.lastElementChild!.remove();
    replace(status, paused ? `Paused (${held.length} new)` : `Streaming · ${body.childElementCount} shown (at most ${MAX_TAIL_ROWS})`);
  }
  const url = `/api/events/tail?source=${encodeURIComponent(sourceId)}`;
  replace(
    root,
    h('div', { class: 'toolbar' }, pause, status),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Received'), h('th', {}, 'Type'), h('th', {}, 'Event'), h('th', {}, 'Who'), h('th', {}, 'Properties'), h('th', {}, 'Context'))),
      body,
    ),
  );
  // EventSource reports no status code, so ask once whether the stream exists at all.
  fetch(url, { headers: { accept: 'text/event-stream' }, credentials: 'same-origin', signal: abort.signal })
    .then((res) => {
      void res.body?.cancel();
      if (res.status === 404) {
        replace(status, h('span', { class: 'error' }, 'The live tail is unavailable on this server.'));
        return;
      }
      if (!res.ok) {
        replace(status, h('span', { class: 'error' }, `The live tail answered ${res.status}.`));
        return;
      }
      source = new EventSource(url, { withCredentials: true });
      source.addEventListener('open', () => replace(status, `Streaming · ${body.childElementCount} shown`));
      source.addEventListener('events', (m) => {
        let events: TailEvent[];
        try {
          events = (JSON.parse((m as MessageEvent<string>).data) as { events: TailEvent[] }).events;
        } catch {
          return;
        }
        if (paused) {
          held = [...held, ...events].slice(-MAX_TAIL_ROWS);
          replace(status, `Paused (${held.length} new)`);
        } else show(events);
      });
      source.addEventListener('error', () => {
        if (source?.readyState === EventSource.CLOSED) replace(status, h('span', { class: 'error' }, 'The live tail closed.'));
        else replace(status, 'Reconnecting…');
      });
    })
    .catch((err: unknown) => {
      if (!abort.signal.aborted) replace(status, h('span', { class: 'error' }, `The live tail is unavailable: ${String(err)}`));
    });
  return () => {
    abort.abort();
    source?.close();
  };
}

type Tab = 'failed' | 'tail';

/** `/events`: the source's failed events (with replay) and a live tail of accepted events. */
export const eventsPage: Page = {
  path: '/events',
  title: 'Events',
  mount(root: HTMLElement, ctx: PageContext) {
    if (!ctx.sourceId) {
      replace(root, h('h1', {}, 'Events'), h('p', { class: 'muted' }, 'This workspace has no source yet.'));
      return () => undefined;
    }
    const sourceId = ctx.sourceId;
    let tab: Tab = 'failed';
    let stop: (() => void) | undefined;
    let canReplay = false;
    const panel = h('div', { class: 'tab-panel', role: 'tabpanel' });
    const tabs = h('div', { class: 'tabs', role: 'tablist' });
    const open = (next: Tab): void => {
      stop?.();
      tab = next;
      replace(
        tabs,
        ...(['failed', 'tail'] as const).map((t) =>
          h(
            'button',
            { type: 'button', role: 'tab', class: t === tab ? 'tab active' : 'tab secondary', 'aria-selected': String(t === tab), on: { click: () => open(t) } },
            t === 'failed' ? 'Failed' : 'Live tail',
          ),
        ),
      );
      stop = tab === 'failed' ? failedTab(panel, ctx.api, sourceId, canReplay) : tailTab(panel, sourceId);
    };
    replace(root, h('h1', {}, 'Events'), tabs, panel);
    let live = true;
    roleIn(ctx.api, ctx.workspaceId)
      .then((role) => (canReplay = role === 'editor' || role === 'admin'))
      .catch(() => undefined)
      .finally(() => live && open(tab));
    return () => {
      live = false;
      stop?.();
    };
  },
};
