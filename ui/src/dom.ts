/**
 * The one way the UI builds DOM. Children are text nodes or elements, never HTML strings: event
 * fields are attacker-controlled, so nothing here ever assigns `innerHTML`.
 *
 * @example
 * ```ts
 * const row = h('tr', {}, h('td', { class: 'num' }, String(count)), h('td', {}, event.name));
 * ```
 */
export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  class?: string;
  /** Event listeners: `on: { click: () => … }`. */
  on?: { [K in keyof HTMLElementEventMap]?: (e: HTMLElementEventMap[K]) => void };
  /** Inline styles. */
  style?: Partial<Record<string, string>>;
  [attr: string]: unknown;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [type, fn] of Object.entries(value as Record<string, EventListener>)) el.addEventListener(type, fn);
    } else if (name === 'style') {
      for (const [prop, v] of Object.entries(value as Record<string, string>)) el.style.setProperty(prop, v);
    } else if (name === 'href' || name === 'src' || name === 'action') {
      el.setAttribute(name, safeUrl(String(value)));
    } else if (/^on/i.test(name)) {
      // Inline handler attributes are how a string becomes script; listeners go through `on`.
      throw new Error(`h(): use the 'on' attribute for ${name}`);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Appends children as text or nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/**
 * A link target that cannot run script: only http(s), mailto and same-origin relative URLs pass;
 * anything else (javascript:, data:, vbscript:) becomes `#`.
 */
export function safeUrl(url: string): string {
  const trimmed = url.trim();
  if (trimmed.startsWith('/') || trimmed.startsWith('#') || trimmed.startsWith('?')) return trimmed.startsWith('//') ? '#' : trimmed;
  try {
    const u = new URL(trimmed);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'mailto:' ? u.href : '#';
  } catch {
    return '#';
  }
}

/** `1234567` → `1,234,567`. */
export function formatNumber(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}
