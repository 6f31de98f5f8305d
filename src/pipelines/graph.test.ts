import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectNodes, topologicalOrder } from './graph.js';

const graph = (edges: Record<string, string[]>) => (n: string) => edges[n] ?? [];

describe('graph', () => {
  it('orders every node after its upstream nodes, ties by name', () => {
    const up = graph({ d: ['b', 'c'], b: ['a'], c: ['a'], e: [] });
    assert.deepEqual(topologicalOrder(['e', 'd', 'c', 'b', 'a'], up), { order: ['a', 'b', 'c', 'd', 'e'], cycles: [] });
  });

  it('finds every cycle as a path in dependency direction', () => {
    const up = graph({ a: ['b'], b: ['c'], c: ['a', 'x'], x: [], y: ['y'], p: ['q'], q: ['p'], z: ['a'] });
    const { order, cycles } = topologicalOrder(Object.keys({ a: 1, b: 1, c: 1, x: 1, y: 1, p: 1, q: 1, z: 1 }), up);
    assert.deepEqual(order, ['x']);
    assert.deepEqual(
      cycles.map((c) => c.join('→')).sort(),
      ['a→b→c→a', 'p→q→p', 'y→y'],
    );
  });

  it('selects a node, its downstream (name+), its upstream (+name), or both', () => {
    const up = graph({ b: ['a'], c: ['b'], d: ['c'], e: ['a'] });
    const nodes = new Set(['a', 'b', 'c', 'd', 'e']);
    const pick = (...s: string[]) => [...selectNodes(s, nodes, up).selected].sort();
    assert.deepEqual(pick('c'), ['c']);
    assert.deepEqual(pick('b+'), ['b', 'c', 'd']);
    assert.deepEqual(pick('+c'), ['a', 'b', 'c']);
    assert.deepEqual(pick('+b+'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(pick('a+', 'e'), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(selectNodes(['zz+'], nodes, up).unknown, ['zz']);
  });
});
