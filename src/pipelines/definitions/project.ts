/**
 * The pipelines folder as a whole: every `*.sql` and `*.sh` under it (recursively, skipping
 * dot-folders), parsed and checked together: names, references and cycles.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { WeirError } from '../../errors/catalogue.js';
import { topologicalOrder } from '../graph.js';
import type { Model, Problem, Project } from './model.js';
import { parseModel, problem, type ModelDefaults } from './parse-model.js';

function definitionFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && /\.(sql|sh)$/.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Reads and validates a pipelines folder. Problems are values in `project.problems` (every one,
 * with file and line); only a missing folder throws (`WEIR_PIPELINE_NO_FOLDER`).
 *
 * @example
 * ```ts
 * const project = loadProject('pipelines', { schema: 'analytics' });
 * for (const p of project.problems) console.error(`${p.file}:${p.line}: ${p.code}: ${p.message}`);
 * ```
 */
export function loadProject(dir: string, defaults: ModelDefaults): Project {
  const root = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new WeirError('WEIR_PIPELINE_NO_FOLDER', { dir });
  const models = new Map<string, Model>();
  const problems: Problem[] = [];
  for (const path of definitionFiles(root)) {
    const file = relative(root, path).split(sep).join('/');
    const parsed = parseModel(file, path, readFileSync(path, 'utf8'), defaults);
    problems.push(...parsed.problems);
    if (!parsed.model) continue;
    const other = models.get(parsed.model.name);
    if (other) {
      problems.push(problem('WEIR_PIPELINE_DUPLICATE_MODEL', file, 1, { model: parsed.model.name, other: other.file }));
      continue;
    }
    models.set(parsed.model.name, parsed.model);
  }
  problems.push(...graphProblems(models));
  const { order } = topologicalOrder(models.keys(), (n) => models.get(n)?.upstream ?? []);
  problems.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { dir: root, models, order, problems };
}

function graphProblems(models: Map<string, Model>): Problem[] {
  const problems: Problem[] = [];
  for (const m of models.values()) {
    for (const up of m.upstream) {
      const line = m.upstreamLine.get(up) ?? 1;
      const target = models.get(up);
      if (!target) problems.push(problem('WEIR_PIPELINE_UNKNOWN_REF', m.file, line, { model: m.name, ref: up }));
      else if (target.kind === 'shell' && m.kind === 'sql' && refersTo(m, up)) {
        problems.push(
          problem('WEIR_PIPELINE_BAD_TEMPLATE', m.file, line, { expression: `ref('${up}')`, detail: `${up} is a shell step and has no table; use depends_on: [${up}]` }),
        );
      }
    }
  }
  const { cycles } = topologicalOrder(models.keys(), (n) => models.get(n)?.upstream ?? []);
  for (const cycle of cycles) {
    const first = models.get(cycle[0]!)!;
    const line = first.upstreamLine.get(cycle[1]!) ?? 1;
    problems.push(problem('WEIR_PIPELINE_CYCLE', first.file, line, { path: cycle.join(' → ') }));
  }
  return problems;
}

function refersTo(model: Model, name: string): boolean {
  if (model.kind !== 'sql') return false;
  const inTemplate = (t: typeof model.template) => t.some((p) => typeof p !== 'string' && p.expression.kind === 'ref' && p.expression.model === name);
  return inTemplate(model.template) || model.checks.some((c) => c.kind === 'sql' && inTemplate(c.template));
}
