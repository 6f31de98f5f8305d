/**
 * A layered random DAG, the same on every run for a seed: `tasks` nodes in `layers` layers, each
 * node after the first layer depending on one to three nodes of earlier layers. Used by the
 * two-worker test and `bench:pipelines`.
 *
 * @example
 * ```ts
 * layeredDag(1000, 25, 7)[500]; // e.g. [12, 388]: node 500 depends on nodes 12 and 388
 * ```
 */
export function layeredDag(tasks: number, layers: number, seed: number): number[][] {
  const rnd = mulberry32(seed);
  const perLayer = Math.ceil(tasks / layers);
  return Array.from({ length: tasks }, (_, i) => {
    const layer = Math.floor(i / perLayer);
    if (layer === 0) return [];
    const ups = new Set<number>();
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) ups.add(Math.floor(rnd() * layer * perLayer));
    return [...ups].sort((a, b) => a - b);
  });
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
