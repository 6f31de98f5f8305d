/**
 * The pipeline graph as a layered drawing: each model in the column of its longest path from a
 * model without upstream models, ordered within its column by the average row of its upstream
 * models (one barycentre pass, which untangles the usual fan-in and fan-out shapes), edges as
 * curves from left to right.
 *
 * @example
 * ```ts
 * root.append(drawDag(graph.models, { selected: 'sessions', onSelect: (name) => show(name) }));
 * ```
 */
import { svg, tooltip } from './svg';
import { stateClass, type GraphResponse } from './types';

const NODE_W = 168;
const NODE_H = 36;
const COL_GAP = 64;
const ROW_GAP = 16;
const PAD = 12;

export interface Placed {
  name: string;
  layer: number;
  row: number;
}

/** Columns and rows of a DAG; names upstream of nothing known are ignored, cycles are cut. */
export function layout(nodes: ReadonlyArray<{ name: string; upstream: readonly string[] }>): Placed[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0; // a cycle (reported as a problem): cut it here
    visiting.add(name);
    const ups = (byName.get(name)?.upstream ?? []).filter((u) => byName.has(u));
    const d = ups.length === 0 ? 0 : 1 + Math.max(...ups.map(depth));
    visiting.delete(name);
    layer.set(name, d);
    return d;
  };
  for (const n of nodes) depth(n.name);
  const columns: string[][] = [];
  for (const n of nodes) (columns[layer.get(n.name)!] ??= []).push(n.name);
  const row = new Map<string, number>();
  for (const column of columns) {
    if (!column) continue;
    const weight = (name: string): number => {
      const rows = (byName.get(name)?.upstream ?? []).map((u) => row.get(u)).filter((r): r is number => r !== undefined);
      return rows.length === 0 ? Infinity : rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    // Stable: ties keep the given (topological, then name) order.
    const sorted = column.map((name, i) => ({ name, i, w: weight(name) })).sort((a, b) => (a.w === b.w ? a.i - b.i : a.w - b.w));
    sorted.forEach((s, r) => row.set(s.name, r));
  }
  return nodes.map((n) => ({ name: n.name, layer: layer.get(n.name)!, row: row.get(n.name)! }));
}

export interface DagOptions {
  selected?: string;
  onSelect(name: string): void;
}

/** The graph as an SVG element; nodes are coloured by their last run (blue while running). */
export function drawDag(models: GraphResponse['models'], options: DagOptions): SVGSVGElement {
  const placed = layout(models);
  const at = new Map(placed.map((p) => [p.name, p]));
  const x = (p: Placed) => PAD + p.layer * (NODE_W + COL_GAP);
  const y = (p: Placed) => PAD + p.row * (NODE_H + ROW_GAP);
  const width = PAD * 2 + (Math.max(0, ...placed.map((p) => p.layer)) + 1) * (NODE_W + COL_GAP) - COL_GAP;
  const height = PAD * 2 + (Math.max(0, ...placed.map((p) => p.row)) + 1) * (NODE_H + ROW_GAP) - ROW_GAP;
  const root = svg('svg', { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'pipeline graph' });
  const edges = svg('g', { class: 'edges' });
  const nodes = svg('g', { class: 'nodes' });
  root.append(edges, nodes);
  for (const m of models) {
    const to = at.get(m.name)!;
    for (const up of m.upstream) {
      const from = at.get(up);
      if (!from) continue;
      const x1 = x(from) + NODE_W;
      const y1 = y(from) + NODE_H / 2;
      const x2 = x(to);
      const y2 = y(to) + NODE_H / 2;
      const bend = Math.max(24, (x2 - x1) / 2);
      edges.append(svg('path', { d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, 'data-edge': `${up}->${m.name}` }));
    }
  }
  for (const m of models) {
    const p = at.get(m.name)!;
    const state = m.running ? 'running' : m.last?.state;
    const label = m.name.length > 22 ? `${m.name.slice(0, 21)}…` : m.name;
    const kind = m.kind === 'shell' ? 'shell' : `${m.materialized ?? ''}${m.partition !== 'none' ? ` · ${m.partition}` : ''}`;
    const g = svg(
      'g',
      {
        class: `node ${stateClass(state)}${options.selected === m.name ? ' selected' : ''}`,
        transform: `translate(${x(p)},${y(p)})`,
        tabindex: 0,
        role: 'button',
        'data-model': m.name,
        'data-state': state ?? 'none',
      },
      tooltip(`${m.name}${m.last ? ` — last run ${m.last.state} ${m.last.finishedAt}` : ' — not run yet'}${m.running ? ' (running now)' : ''}`),
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }),
      svg('text', { x: 10, y: 15, class: 'name' }, label),
      svg('text', { x: 10, y: 29, class: 'kind' }, kind),
    );
    g.addEventListener('click', () => options.onSelect(m.name));
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') options.onSelect(m.name);
    });
    nodes.append(g);
  }
  return root;
}
