/**
 * One iterative walk over an item that enforces the structural limits (nesting depth, key count,
 * forbidden keys) and finds numbers JSON could not represent (1e400 parses to Infinity and would
 * be written back as null).
 *
 * Iterative on purpose: a hostile 100k-deep document must not overflow the stack.
 *
 * @example
 * ```ts
 * inspectStructure({ a: { b: 1 } }, { maxDepth: 32, maxProperties: 2000 }); // { kind: 'ok' }
 * inspectStructure({ x: 1e400 }, { maxDepth: 32, maxProperties: 2000 }); // { kind: 'non-finite', field: 'x' }
 * ```
 */
export type StructureResult =
  | { kind: 'ok' }
  | { kind: 'too-deep' }
  | { kind: 'too-many-properties' }
  | { kind: 'forbidden-key'; key: string }
  | { kind: 'non-finite'; field: string };

const OK: StructureResult = Object.freeze({ kind: 'ok' });

export interface StructureLimits {
  maxDepth: number;
  maxProperties: number;
}

export function inspectStructure(root: unknown, limits: StructureLimits): StructureResult {
  if (typeof root !== 'object' || root === null) return OK;
  const values: unknown[] = [root];
  const depths: number[] = [1];
  let keys = 0;
  let nonFinite: string | undefined;
  while (values.length > 0) {
    const node = values.pop() as object;
    const depth = depths.pop()!;
    if (depth > limits.maxDepth) return { kind: 'too-deep' };
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v === 'object' && v !== null) {
          values.push(v);
          depths.push(depth + 1);
        } else if (typeof v === 'number' && !Number.isFinite(v)) nonFinite ??= `[${i}]`;
      }
      continue;
    }
    for (const key in node) {
      // JSON.parse makes "__proto__" an own key; anything that later copies it with plain
      // assignment would replace an object's prototype.
      if (key === '__proto__') return { kind: 'forbidden-key', key };
      if (++keys > limits.maxProperties) return { kind: 'too-many-properties' };
      const v: unknown = (node as Record<string, unknown>)[key];
      if (typeof v === 'object' && v !== null) {
        if (key === 'constructor' && 'prototype' in v) return { kind: 'forbidden-key', key: 'constructor.prototype' };
        values.push(v);
        depths.push(depth + 1);
      } else if (typeof v === 'number' && !Number.isFinite(v)) nonFinite ??= key;
    }
  }
  return nonFinite === undefined ? OK : { kind: 'non-finite', field: nonFinite };
}
