/**
 * The Pipelines page. `/pipelines`: the graph of the pipelines folder (click a model for its
 * header, last runs and check history), problems in the definitions, and the runs list.
 * `/pipelines/runs/<id>`: one run as a Gantt chart that follows the run while it runs (polled
 * once a second), its tasks, the log of any attempt, and its check results. Editors get "run
 * now" and "retry the failed part".
 */
import { ApiError } from '../api';
import { h, replace, type Child } from '../dom';
import type { Page, PageContext } from '../page';
import { drawDag } from '../pipelines/dag';
import { drawGantt } from '../pipelines/gantt';
import {
  span,
  stateClass,
  when,
  type AttemptView,
  type CheckResultView,
  type GraphResponse,
  type ModelResponse,
  type ModelView,
  type RunResponse,
  type RunView,
} from '../pipelines/types';
import '../pipelines/pipelines.css';

const BASE = '/ui';
const POLL_MS = 1000;
const LIST_REFRESH_MS = 5000;

function badge(state: string): HTMLElement {
  return h('span', { class: `badge ${stateClass(state)}`, 'data-state': state }, state.replace('_', ' '));
}

function errorText(err: unknown): string {
  return err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
}

function link(ctx: PageContext, path: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: BASE + path, on: { click: (e) => (e.preventDefault(), ctx.navigate(path)) } }, ...children);
}

function countsText(counts: RunView['counts']): string {
  return Object.entries(counts)
    .map(([state, n]) => `${n} ${state.replace('_', ' ')}`)
    .join(', ');
}

function took(from: string | null, to: string | null): string {
  return from && to ? span(Date.parse(to) - Date.parse(from)) : '';
}

function triggerText(m: ModelView): string {
  const t = m.trigger;
  return t.kind === 'schedule' ? `schedule ${t.cron} (UTC)` : t.kind === 'watermark' ? `watermark + ${span(t.latenessMs)} lateness` : 'manual';
}

function checkDetail(c: ModelView['checks'][number]): string {
  const { name: _n, kind: _k, severity: _s, line: _l, ...rest } = c;
  return Object.entries(rest)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
    .join('; ');
}

/** Timers and a "still mounted" flag, so nothing renders or polls after the page is left. */
class Lifetime {
  alive = true;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.alive) fn();
    }, ms);
    this.timers.add(t);
  }
  end(): void {
    this.alive = false;
    for (const t of this.timers) clearTimeout(t);
  }
}

// The overview: graph, model panel, runs.

function mountOverview(root: HTMLElement, ctx: PageContext, life: Lifetime): void {
  const { api } = ctx;
  const status = h('p', { class: 'muted' }, 'Loading…');
  const actions = h('div', { class: 'actions' });
  const problems = h('div', {});
  const graphBox = h('div', { class: 'dag-box' });
  const panel = h('div', { class: 'card model-panel' }, h('p', { class: 'muted' }, 'Click a model for its header, last runs and check history.'));
  const runsBox = h('div', {});
  const stateFilter = h('select', { 'aria-label': 'Run state' }, ...['', 'running', 'succeeded', 'failed'].map((s) => h('option', { value: s }, s || 'any state')));
  const modelFilter = h('select', { 'aria-label': 'Model' }, h('option', { value: '' }, 'any model'));
  replace(
    root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Pipelines'), actions),
    status,
    problems,
    h('div', { class: 'pipelines-top' }, h('div', { class: 'card' }, h('h2', {}, 'Graph'), graphBox), panel),
    h('div', { class: 'card' }, h('div', { class: 'title-row' }, h('h2', {}, 'Runs'), h('div', { class: 'filters' }, stateFilter, modelFilter)), runsBox),
  );

  let graph: GraphResponse | undefined;
  let selected: string | undefined;

  const drawGraph = () => {
    if (!graph) return;
    replace(graphBox, graph.models.length === 0 ? h('p', { class: 'muted' }, 'No models.') : drawDag(graph.models, { selected, onSelect: (name) => void selectModel(name) }));
  };

  const loadGraph = async () => {
    graph = await api.get<GraphResponse>('/api/pipelines');
    replace(status);
    replace(
      problems,
      graph.problems.length === 0
        ? null
        : h(
            'div',
            { class: 'card problems', role: 'alert' },
            h('h2', {}, `${graph.problems.length} problem(s) in the definitions`),
            h('ul', {}, ...graph.problems.map((p) => h('li', {}, h('code', {}, p.file ? `${p.file}:${p.line}` : ''), ' ', h('span', { class: 'muted' }, p.code), ' ', p.message))),
          ),
    );
    const current = modelFilter.value;
    replace(modelFilter, h('option', { value: '' }, 'any model'), ...graph.models.map((m) => h('option', { value: m.name, selected: m.name === current }, m.name)));
    replace(
      actions,
      graph.canRun && graph.models.length > 0
        ? h('button', { type: 'button', 'data-action': 'run-all', on: { click: () => void runNow([]) } }, 'Run all now')
        : null,
    );
    drawGraph();
  };

  const runNow = async (models: string[]) => {
    try {
      const { run } = await api.post<{ run: RunView }>('/api/pipelines/runs', { models });
      ctx.navigate(`/pipelines/runs/${encodeURIComponent(run.id)}`);
    } catch (err) {
      replace(status, h('span', { class: 'error', role: 'alert' }, errorText(err)));
    }
  };

  const selectModel = async (name: string) => {
    selected = name;
    drawGraph();
    replace(panel, h('p', { class: 'muted' }, `Loading ${name}…`));
    try {
      const r = await api.get<ModelResponse>(`/api/pipelines/models/${encodeURIComponent(name)}`);
      if (life.alive && selected === name) replace(panel, ...modelPanel(ctx, r, graph?.canRun === true, runNow));
    } catch (err) {
      replace(panel, h('p', { class: 'error' }, errorText(err)));
    }
  };

  let runs: RunView[] = [];
  let more: string | null = null;
  const loadRuns = async (append: boolean) => {
    const q = new URLSearchParams({ limit: '20' });
    if (stateFilter.value) q.set('state', stateFilter.value);
    if (modelFilter.value) q.set('model', modelFilter.value);
    if (append && more) q.set('before', more);
    const r = await api.get<{ runs: RunView[]; next: string | null }>(`/api/pipelines/runs?${q}`);
    runs = append ? [...runs, ...r.runs] : r.runs;
    more = r.runs.length === 20 ? r.next : null;
    replace(runsBox, runsTable(ctx, runs), more ? h('button', { type: 'button', class: 'secondary', on: { click: () => void loadRuns(true) } }, 'Older runs') : null);
  };
  stateFilter.addEventListener('change', () => void loadRuns(false));
  modelFilter.addEventListener('change', () => void loadRuns(false));

  // The runs list and node colours follow what workers do; the first page only, so paging holds.
  const refresh = async () => {
    try {
      await loadGraph();
      if (runs.length <= 20) await loadRuns(false);
    } catch (err) {
      replace(status, h('span', { class: 'error' }, errorText(err)));
    }
    life.after(LIST_REFRESH_MS, () => void refresh());
  };
  void refresh();
}

function runsTable(ctx: PageContext, runs: RunView[]): HTMLElement {
  if (runs.length === 0) return h('p', { class: 'muted' }, 'No runs yet.');
  return h(
    'table',
    { class: 'runs' },
    h('thead', {}, h('tr', {}, ...['run', 'kind', 'state', 'tasks', 'created (UTC)', 'took'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...runs.map((r) =>
        h(
          'tr',
          { 'data-run': r.id },
          h('td', {}, link(ctx, `/pipelines/runs/${encodeURIComponent(r.id)}`, h('code', {}, r.id))),
          h('td', {}, r.kind),
          h('td', {}, badge(r.state)),
          h('td', {}, countsText(r.counts)),
          h('td', {}, when(r.createdAt)),
          h('td', { class: 'num' }, took(r.createdAt, r.finishedAt)),
        ),
      ),
    ),
  );
}

function modelPanel(ctx: PageContext, r: ModelResponse, canRun: boolean, runNow: (models: string[]) => Promise<void>): Child[] {
  const m = r.model;
  const rows: Array<[string, string]> = [
    ['file', m.file],
    ['kind', m.kind === 'shell' ? 'shell step' : `SQL, ${m.materialized ?? ''}`],
    ['partition', m.partition + (m.partitionBy ? ` (by ${m.partitionBy})` : '')],
    ['trigger', triggerText(m)],
    ['retries', m.retries === 0 ? 'none' : `${m.retries} (first after ${span(m.retryDelayMs)}, then doubling)`],
    ['timeout', span(m.timeoutMs)],
    ['upstream', m.upstream.join(', ') || '—'],
  ];
  if (m.schema) rows.push(['schema', m.schema]);
  if (m.description) rows.push(['description', m.description]);
  // History per check, oldest first, as a strip of pass/fail marks.
  const history = new Map<string, CheckResultView[]>();
  for (const c of [...r.checks].reverse()) {
    let list = history.get(c.check);
    if (!list) history.set(c.check, (list = []));
    list.push(c);
  }
  return [
    h('div', { class: 'title-row' }, h('h2', {}, m.name), canRun ? h('button', { type: 'button', 'data-action': 'run-model', on: { click: () => void runNow([m.name]) } }, 'Run now') : null),
    h('table', { class: 'header' }, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))),
    h('h3', {}, 'Checks'),
    m.checks.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h(
          'table',
          { class: 'checks' },
          h('tbody', {}, ...m.checks.map((c) => {
            const past = history.get(c.name) ?? [];
            return h(
              'tr',
              { 'data-check': c.name },
              h('td', {}, h('code', {}, c.name), h('div', { class: 'muted' }, `${c.severity}, line ${c.line}${checkDetail(c) ? `; ${checkDetail(c)}` : ''}`)),
              h(
                'td',
                { class: 'strip' },
                past.length === 0 ? h('span', { class: 'muted' }, 'no results yet') : null,
                ...past.slice(-30).map((p) =>
                  h('span', { class: `mark ${stateClass(p.status)}`, title: `${when(p.checkedAt)} ${p.partitionKey} ${p.status}${p.failing !== null ? `, ${p.failing} failing` : ''}` }),
                ),
              ),
            );
          })),
        ),
    h('h3', {}, 'Last runs'),
    r.lastRuns.length === 0
      ? h('p', { class: 'muted' }, 'Not run yet.')
      : h(
          'table',
          {},
          h('tbody', {}, ...r.lastRuns.map((l) => h('tr', {}, h('td', {}, link(ctx, `/pipelines/runs/${encodeURIComponent(l.runId)}`, h('code', {}, l.runId))), h('td', {}, l.partitionKey), h('td', {}, badge(l.state)), h('td', {}, when(l.finishedAt))))),
        ),
  ];
}

// One run: Gantt chart, tasks, logs, checks.

function mountRun(root: HTMLElement, ctx: PageContext, life: Lifetime, runId: string): void {
  const { api } = ctx;
  const title = h('div', { class: 'title-row' }, h('h1', {}, 'Run ', h('code', {}, runId)));
  const summary = h('div', { class: 'summary' }, h('p', { class: 'muted' }, 'Loading…'));
  const message = h('p', { role: 'status' });
  const chart = h('div', { class: 'gantt-box' });
  const tasks = h('div', {});
  const logTitle = h('h2', {}, 'Log');
  const log = h('pre', { class: 'log', 'data-log': '' }, 'Click a bar of the chart, or an attempt below, for its log.');
  const checks = h('div', {});
  replace(
    root,
    h('p', {}, link(ctx, '/pipelines', '← Pipelines')),
    title,
    summary,
    message,
    h('div', { class: 'card' }, h('h2', {}, 'Timeline'), chart),
    h('div', { class: 'card' }, h('h2', {}, 'Tasks'), tasks),
    h('div', { class: 'card' }, logTitle, log),
    h('div', { class: 'card' }, h('h2', {}, 'Checks'), checks),
  );

  let canRun = false;
  let last: RunResponse | undefined;
  let selectedAttempt: AttemptView | undefined;
  let polling = false;

  /** Shows an attempt's log; `redraw` outlines its bar (a click), a poll has just drawn it. */
  const showLog = async (a: AttemptView, redraw = true) => {
    selectedAttempt = a;
    const task = last?.run.tasks.find((t) => t.id === a.taskId);
    replace(logTitle, `Log: ${task ? `${task.model}${task.partition.key ? ` ${task.partition.key}` : ''}` : a.taskId}, attempt ${a.number} (${a.state})`);
    try {
      const r = await api.get<{ log: string }>(`/api/pipelines/attempts/${encodeURIComponent(a.id)}/log`);
      if (selectedAttempt?.id === a.id) replace(log, r.log === '' ? (a.state === 'running' ? '(no output yet)' : '(no output)') : r.log);
    } catch (err) {
      replace(log, errorText(err));
    }
    if (redraw && last) render(last);
  };

  const retry = async () => {
    try {
      const r = await api.post<{ reset: number }>(`/api/pipelines/runs/${encodeURIComponent(runId)}/retry`);
      replace(message, `${r.reset} task(s) will run again.`);
      await poll();
    } catch (err) {
      replace(message, h('span', { class: 'error', role: 'alert' }, errorText(err)));
    }
  };

  const render = (r: RunResponse) => {
    const { run } = r;
    replace(
      title,
      h('h1', {}, 'Run ', h('code', {}, run.id), ' ', badge(run.state)),
      canRun && run.state === 'failed' ? h('button', { type: 'button', 'data-action': 'retry', on: { click: () => void retry() } }, 'Retry failed part') : null,
    );
    replace(
      summary,
      h(
        'p',
        {},
        `${run.kind} run, ${run.taskCount} task(s): ${countsText(run.counts)}. Created ${when(run.createdAt)} UTC`,
        run.finishedAt ? `, finished after ${took(run.createdAt, run.finishedAt)}.` : `, running for ${span(Date.parse(r.now) - Date.parse(run.createdAt))}.`,
      ),
      h('p', { class: 'muted' }, `Asked for: ${JSON.stringify(run.params)}`),
    );
    replace(chart, drawGantt(r, { selectedAttempt: selectedAttempt?.id, onAttempt: (a) => void showLog(a) }));
    const byTask = new Map<string, AttemptView[]>();
    for (const a of r.attempts) byTask.set(a.taskId, [...(byTask.get(a.taskId) ?? []), a]);
    replace(
      tasks,
      h(
        'table',
        { class: 'tasks' },
        h('thead', {}, h('tr', {}, ...['model', 'partition', 'state', 'attempts', 'started (UTC)', 'took', 'error'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          ...run.tasks.map((t) =>
            h(
              'tr',
              { 'data-task': t.model, 'data-state': t.state },
              h('td', {}, t.model),
              h('td', {}, t.partition.key),
              h('td', {}, badge(t.state), t.warnings > 0 ? h('span', { class: 'muted' }, ` ${t.warnings} warning(s)`) : null),
              h(
                'td',
                {},
                ...(byTask.get(t.id) ?? []).map((a) =>
                  h('button', { type: 'button', class: `attempt secondary ${stateClass(a.state)}`, title: `log of attempt ${a.number}`, on: { click: () => void showLog(a) } }, `#${a.number} ${a.state}`),
                ),
              ),
              h('td', {}, when(t.startedAt)),
              h('td', { class: 'num' }, took(t.startedAt, t.finishedAt)),
              h('td', { class: 'error-text' }, t.error ?? ''),
            ),
          ),
        ),
      ),
    );
    replace(
      checks,
      r.checks.length === 0
        ? h('p', { class: 'muted' }, 'No check results.')
        : h(
            'table',
            { class: 'checks' },
            h('thead', {}, h('tr', {}, ...['model', 'partition', 'check', 'severity', 'result', 'failing', 'detail', 'checked (UTC)'].map((c) => h('th', {}, c)))),
            h(
              'tbody',
              {},
              ...r.checks.map((c) =>
                h(
                  'tr',
                  { 'data-check': c.check, 'data-status': c.status },
                  h('td', {}, c.model),
                  h('td', {}, c.partitionKey),
                  h('td', {}, h('code', {}, c.check)),
                  h('td', {}, c.severity),
                  h('td', {}, badge(c.status)),
                  h('td', { class: 'num' }, c.failing === null ? '' : String(c.failing)),
                  h('td', {}, c.detail ?? ''),
                  h('td', {}, when(c.checkedAt)),
                ),
              ),
            ),
          ),
    );
  };

  /** Reads the run, and again every second while it runs (one request at a time). */
  const poll = async (): Promise<void> => {
    if (polling || !life.alive) return;
    polling = true;
    try {
      const r = await api.get<RunResponse>(`/api/pipelines/runs/${encodeURIComponent(runId)}`);
      if (!life.alive) return;
      last = r;
      if (selectedAttempt) selectedAttempt = r.attempts.find((a) => a.id === selectedAttempt!.id) ?? selectedAttempt;
      render(r);
      // A running attempt's log grows: read it again with the run.
      if (selectedAttempt && r.run.state === 'running') void showLog(selectedAttempt, false);
      if (r.run.state === 'running') life.after(POLL_MS, () => void poll());
    } catch (err) {
      replace(message, h('span', { class: 'error', role: 'alert' }, errorText(err)));
      // A network blip must not stop following a running run.
      if (!(err instanceof ApiError && err.status < 500)) life.after(POLL_MS * 3, () => void poll());
    } finally {
      polling = false;
    }
  };

  void (async () => {
    canRun = await api.get<GraphResponse>('/api/pipelines').then(
      (g) => g.canRun,
      () => false,
    );
    await poll();
  })();
}

export const pipelinesPage: Page = {
  path: '/pipelines',
  title: 'Pipelines',
  mount(root, ctx) {
    const life = new Lifetime();
    root.classList.add('pipelines');
    const m = /^\/ui\/pipelines\/runs\/([^/]+)\/?$/.exec(location.pathname);
    if (m) mountRun(root, ctx, life, decodeURIComponent(m[1]!));
    else mountOverview(root, ctx, life);
    return () => life.end();
  },
};
