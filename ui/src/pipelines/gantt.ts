/**
 * A run as a Gantt chart: one row per task, one bar per attempt from its start to its end (to
 * "now" while it runs), coloured by the attempt's state, so retries show as several bars on one
 * row; tasks that have not started show their state at the left. A vertical line marks the
 * server's "now" while the run is running.
 *
 * @example
 * ```ts
 * chart.replaceWith(drawGantt(response, { onAttempt: (a) => showLog(a) }));
 * ```
 */
import { svg, tooltip } from './svg';
import { span, stateClass, type AttemptView, type RunResponse } from './types';

const LABEL_W = 220;
const ROW_H = 22;
const BAR_H = 14;
const AXIS_H = 22;
const CHART_W = 760;

/** A round step for the time axis: about six ticks over `ms`. */
function tickStep(ms: number): number {
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];
  return steps.find((s) => ms / s <= 6) ?? 86_400_000;
}

export interface GanttOptions {
  /** The attempt whose log is shown, drawn outlined. */
  selectedAttempt?: string;
  onAttempt(attempt: AttemptView): void;
}

export function drawGantt(r: RunResponse, options: GanttOptions): SVGSVGElement {
  const { run, attempts } = r;
  const nowMs = Date.parse(r.now);
  const startMs = Math.min(Date.parse(run.createdAt), ...attempts.map((a) => Date.parse(a.startedAt)));
  const ends = attempts.map((a) => (a.finishedAt ? Date.parse(a.finishedAt) : nowMs));
  const endMs = Math.max(startMs + 1000, run.state === 'running' ? nowMs : Math.max(startMs, ...ends, run.finishedAt ? Date.parse(run.finishedAt) : startMs));
  const total = endMs - startMs;
  const xOf = (ms: number) => LABEL_W + ((ms - startMs) / total) * CHART_W;
  const height = AXIS_H + run.tasks.length * ROW_H + 6;
  const width = LABEL_W + CHART_W + 16;
  const root = svg('svg', { class: 'gantt', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'run timeline' });

  const axis = svg('g', { class: 'axis' });
  const step = tickStep(total);
  for (let t = 0; t <= total; t += step) {
    const tx = xOf(startMs + t);
    axis.append(svg('line', { x1: tx, x2: tx, y1: AXIS_H - 4, y2: height }), svg('text', { x: tx + 2, y: AXIS_H - 8 }, `+${span(t)}`));
  }
  root.append(axis);

  const byTask = new Map<string, AttemptView[]>();
  for (const a of attempts) {
    let list = byTask.get(a.taskId);
    if (!list) byTask.set(a.taskId, (list = []));
    list.push(a);
  }
  run.tasks.forEach((task, i) => {
    const y = AXIS_H + i * ROW_H;
    const label = `${task.model}${task.partition.key ? ` ${task.partition.key}` : ''}`;
    const row = svg(
      'g',
      { class: `task ${stateClass(task.state)}`, 'data-task': task.model, 'data-partition': task.partition.key, 'data-state': task.state },
      svg('rect', { class: 'row', x: 0, y, width, height: ROW_H }),
      svg('text', { class: 'label', x: 4, y: y + 15 }, label.length > 34 ? `${label.slice(0, 33)}…` : label, tooltip(`${label}: ${task.state}${task.error ? ` — ${task.error}` : ''}`)),
    );
    const list = byTask.get(task.id) ?? [];
    if (list.length === 0) {
      row.append(svg('text', { class: 'waiting', x: LABEL_W + 4, y: y + 15 }, task.state.replace('_', ' ')));
    }
    for (const a of list) {
      const from = Date.parse(a.startedAt);
      const to = a.finishedAt ? Date.parse(a.finishedAt) : nowMs;
      const x = xOf(from);
      // At least 3 px: a no-op step takes a millisecond and must still be visible and clickable.
      const w = Math.max(3, xOf(to) - x);
      const bar = svg(
        'rect',
        {
          class: `bar ${stateClass(a.state)}${options.selectedAttempt === a.id ? ' selected' : ''}`,
          x,
          y: y + (ROW_H - BAR_H) / 2,
          width: w,
          height: BAR_H,
          rx: 2,
          'data-attempt': a.number,
          'data-attempt-state': a.state,
        },
        tooltip(`${label} attempt ${a.number}: ${a.state}, ${span(to - from)}${a.error ? ` — ${a.error}` : ''}`),
      );
      bar.addEventListener('click', () => options.onAttempt(a));
      row.append(bar);
    }
    root.append(row);
  });

  if (run.state === 'running') {
    const nx = xOf(nowMs);
    root.append(svg('line', { class: 'now', x1: nx, x2: nx, y1: AXIS_H - 6, y2: height }, tooltip(`now: ${r.now}`)));
  }
  return root;
}
