/**
 * The `{{ … }}` expressions of model SQL: `ref('model')` and `source('schema.table')` name the
 * tables a model reads (and so the graph), `this` the model's own table, `start` and `end` the
 * partition's bounds. Parsing is separate from rendering, so the graph is known without an
 * engine and rendering cannot fail.
 */

export type Expression =
  | { kind: 'start' }
  | { kind: 'end' }
  | { kind: 'this' }
  | { kind: 'ref'; model: string }
  /** `schema` is absent for `source('table')`: the configured source schema is meant. */
  | { kind: 'source'; schema?: string; table: string };

export interface Placeholder {
  expression: Expression;
  /** Line in the file. */
  line: number;
}

/** Text and placeholders, in order. */
export type Template = Array<string | Placeholder>;

export interface TemplateProblem {
  line: number;
  expression: string;
  detail: string;
}

const PLACEHOLDER = /\{\{([\s\S]*?)\}\}/g;
const CALL = /^(ref|source)\s*\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseExpression(text: string): Expression | string {
  if (text === 'start' || text === 'end' || text === 'this') return { kind: text };
  const m = CALL.exec(text);
  if (!m) return "expected start, end, this, ref('model') or source('schema.table')";
  const arg = (m[2] ?? m[3] ?? '').trim();
  if (m[1] === 'ref') return NAME.test(arg) ? { kind: 'ref', model: arg } : `${JSON.stringify(arg)} is not a model name`;
  const parts = arg.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) return `${JSON.stringify(arg)} is not a table or schema.table`;
  return parts.length === 2 ? { kind: 'source', schema: parts[0]!, table: parts[1]! } : { kind: 'source', table: parts[0]! };
}

/**
 * Splits text into literal parts and placeholders; `firstLine` is the file line the text starts
 * on, so problems and placeholders carry file lines.
 *
 * @example
 * ```ts
 * parseTemplate("select * from {{ ref('sessions') }} where t >= {{ start }}", 12).template;
 * // ['select * from ', { expression: { kind: 'ref', model: 'sessions' }, line: 12 }, ' where t >= ', { expression: { kind: 'start' }, line: 12 }]
 * ```
 */
export function parseTemplate(text: string, firstLine: number): { template: Template; problems: TemplateProblem[] } {
  const template: Template = [];
  const problems: TemplateProblem[] = [];
  let last = 0;
  let line = firstLine;
  let counted = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const at = m.index;
    for (let i = counted; i < at; i++) if (text.charCodeAt(i) === 10) line += 1;
    counted = at;
    if (at > last) template.push(text.slice(last, at));
    last = at + m[0].length;
    const source = (m[1] ?? '').trim();
    const parsed = parseExpression(source);
    if (typeof parsed === 'string') {
      problems.push({ line, expression: source, detail: parsed });
      template.push(m[0]);
    } else template.push({ expression: parsed, line });
  }
  if (last < text.length) template.push(text.slice(last));
  return { template, problems };
}

/** Every expression of a template, in order. */
export function placeholders(template: Template): Placeholder[] {
  return template.filter((p): p is Placeholder => typeof p !== 'string');
}

/**
 * The text with each placeholder replaced.
 *
 * @example
 * ```ts
 * renderTemplate(template, (e) => (e.kind === 'ref' ? `"analytics"."${e.model}"` : "timestamptz '2026-01-01T00:00:00.000Z'"));
 * ```
 */
export function renderTemplate(template: Template, resolve: (expression: Expression) => string): string {
  return template.map((p) => (typeof p === 'string' ? p : resolve(p.expression))).join('');
}
