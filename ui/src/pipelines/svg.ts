/**
 * SVG elements built like `h()` builds HTML: attributes as values and text as text nodes, never
 * markup, because model names, partitions and errors end up in labels and tooltips.
 *
 * @example
 * ```ts
 * const box = svg('rect', { x: 0, y: 0, width: 80, height: 20, class: 'node' });
 * const label = svg('text', { x: 4, y: 14 }, model.name);
 * ```
 */
const NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | undefined> = {},
  ...children: Array<Node | string | null | undefined>
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, String(value));
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** A `<title>` child: the tooltip browsers show on hover. */
export function tooltip(text: string): SVGTitleElement {
  const t = document.createElementNS(NS, 'title');
  t.textContent = text;
  return t;
}
