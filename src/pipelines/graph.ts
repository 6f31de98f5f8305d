/**
 * The dependency graph of models: topological order, cycles, and selecting parts of it.
 */

/**
 * Every node after the nodes it depends on (ties broken by name, so the order is stable), and
 * the cycles that keep the rest from being ordered, each as a path that ends where it starts.
 *
 * @example
 * ```ts
 * topologicalOrder(['a', 'b', 'c'], (n) => ({ a: [], b: ['a'], c: ['b'] })[n] ?? []);
 * // { order: ['a', 'b', 'c'], cycles: [] }
 * ```
 */
export function topologicalOrder(nodes: Iterable<string>, upstream: (node: string) => readonly string[]): { order: string[]; cycles: string[][] } {
  const all = [...new Set(nodes)].sort();
  const known = new Set(all);
  const waiting = new Map<string, number>();
  const downstream = new Map<string, string[]>();
  for (const n of all) {
    const ups = [...new Set(upstream(n))].filter((u) => known.has(u));
    waiting.set(n, ups.length);
    for (const u of ups) {
      let list = downstream.get(u);
      if (!list) downstream.set(u, (list = []));
      list.push(n);
    }
  }
  // A sorted queue keeps ties in name order; graphs here are small enough for a plain array.
  const ready = all.filter((n) => waiting.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const d of downstream.get(n) ?? []) {
      const left = (waiting.get(d) ?? 0) - 1;
      waiting.set(d, left);
      if (left === 0) {
        const at = ready.findIndex((r) => r > d);
        ready.splice(at === -1 ? ready.length : at, 0, d);
      }
    }
  }
  const cycles = order.length === all.length ? [] : findCycles(all.filter((n) => !order.includes(n)), (n) => upstream(n).filter((u) => known.has(u)));
  return { order, cycles };
}

/**
 * One cycle per strongly connected group of the unordered nodes (Tarjan), as a path in
 * dependency direction starting at its smallest name: `['a', 'b', 'a']` means a depends on b,
 * which depends on a.
 */
function findCycles(nodes: string[], upstream: (node: string) => string[]): string[][] {
  const inSet = new Set(nodes);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of upstream(v)) {
      if (!inSet.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      const selfLoop = group.length === 1 && upstream(v).includes(v);
      if (group.length > 1 || selfLoop) groups.push(group);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return groups.map((group) => {
    const members = new Set(group);
    const first = [...group].sort()[0]!;
    // Shortest way back to the first node inside the group, by breadth-first search.
    const previous = new Map<string, string>();
    const queue = [first];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const w of [...upstream(v)].sort()) {
        if (!members.has(w)) continue;
        if (w === first) {
          previous.set(first, v);
          found = true;
          break;
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [first];
    for (let v = previous.get(first); v !== undefined && v !== first; v = previous.get(v)) path.push(v);
    path.push(first);
    // Collected backwards from the closing edge: reverse into dependency direction.
    return [first, ...path.slice(1, -1).reverse(), first];
  });
}

/**
 * The nodes a selection names: `name` alone, `name+` with everything downstream of it, `+name`
 * with everything upstream, `+name+` both. Unknown names are returned in `unknown`.
 *
 * @example
 * ```ts
 * selectNodes(['sessions+'], graph); // { selected: Set { 'sessions', 'page_engagement' }, unknown: [] }
 * ```
 */
export function selectNodes(
  selectors: readonly string[],
  nodes: ReadonlySet<string>,
  upstream: (node: string) => readonly string[],
): { selected: Set<string>; unknown: string[] } {
  const downstream = new Map<string, string[]>();
  for (const n of nodes) {
    for (const u of upstream(n)) {
      let list = downstream.get(u);
      if (!list) downstream.set(u, (list = []));
      list.push(n);
    }
  }
  const selected = new Set<string>();
  const unknown: string[] = [];
  const walk = (start: string, next: (n: string) => readonly string[]) => {
    const todo = [start];
    while (todo.length > 0) {
      const n = todo.pop()!;
      for (const m of next(n)) {
        if (nodes.has(m) && !selected.has(m)) {
          selected.add(m);
          todo.push(m);
        }
      }
    }
  };
  for (const raw of selectors) {
    const up = raw.startsWith('+');
    const down = raw.length > 1 && raw.endsWith('+');
    const name = raw.slice(up ? 1 : 0, down ? -1 : undefined);
    if (!nodes.has(name)) {
      unknown.push(name);
      continue;
    }
    selected.add(name);
    if (up) walk(name, upstream);
    if (down) walk(name, (n) => downstream.get(n) ?? []);
  }
  return { selected, unknown };
}
