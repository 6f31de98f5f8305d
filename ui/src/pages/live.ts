import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatNumber, h, replace } from '../dom';
import type { Page } from '../page';
import './live.css';

/** `GET /api/live` snapshot (src/realtime/realtime-store.ts `LiveSnapshot`). */
interface LiveSnapshot {
  at: string;
  visitors: { total: number; engaged: number; idle: number };
  pages: Array<{ path: string; title: string; url: string; visitors: number; engaged: number }>;
  referrers: Record<string, number>;
  audience: { new: number; returning: number; unknown: number };
  averageEngagedSeconds: number;
  scrollDepth: number[];
  minutes: Array<{ at: string; events: number; engagedSeconds: number }>;
}

const REFERRERS: Array<[key: string, label: string]> = [
  ['search', 'Search'],
  ['social', 'Social'],
  ['internal', 'Internal'],
  ['direct', 'Direct'],
  ['other', 'Other'],
];
const SCROLL_LABELS = ['0–25 %', '25–50 %', '50–75 %', '75–100 %'];

/** `75` → `1m 15s`. */
function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

function percent(part: number, whole: number): string {
  return `${whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10}%`;
}

/** A card with a heading and a body that each snapshot fills. */
function card(title: string, extraClass = ''): { el: HTMLElement; body: HTMLElement } {
  const body = h('div', { class: 'live-card-body' });
  return { el: h('section', { class: `card live-card ${extraClass}` }, h('h2', {}, title), body), body };
}

/** A labelled horizontal bar; `width` animates between snapshots (see live.css). */
function barRow(label: string, value: number, max: number, detail?: string): HTMLElement {
  return h(
    'div',
    { class: 'bar-row' },
    h('span', { class: 'bar-label' }, label),
    h('span', { class: 'bar-track' }, h('span', { class: 'bar-fill', style: { width: percent(value, max) } })),
    h('span', { class: 'bar-value' }, formatNumber(value), detail ? h('span', { class: 'muted' }, ` ${detail}`) : null),
  );
}

/**
 * Top pages as keyed rows, so a page that stays on the list keeps its element and its bars
 * glide to their new length instead of being redrawn.
 */
class PageList {
  readonly el = h('ol', { class: 'live-pages', 'data-testid': 'live-pages' });
  private readonly rows = new Map<string, { li: HTMLElement; engaged: HTMLElement; idle: HTMLElement; count: HTMLElement; title: HTMLElement; link: HTMLAnchorElement }>();

  update(pages: LiveSnapshot['pages']): void {
    const max = Math.max(1, ...pages.map((p) => p.visitors));
    const keep = new Set(pages.map((p) => p.path));
    for (const [path, row] of this.rows) {
      if (!keep.has(path)) {
        row.li.remove();
        this.rows.delete(path);
      }
    }
    if (pages.length === 0) {
      replace(this.el, h('li', { class: 'empty muted' }, 'Nobody is reading right now.'));
      return;
    }
    this.el.querySelector('li.empty')?.remove();
    pages.forEach((p, i) => {
      let row = this.rows.get(p.path);
      if (!row) {
        const engaged = h('span', { class: 'seg engaged' });
        const idle = h('span', { class: 'seg idle' });
        const count = h('span', { class: 'page-count' });
        const title = h('span', { class: 'page-title' });
        // Titles and urls come from visitors' browsers: text nodes, and an href h() sanitises.
        const link = h('a', { class: 'page-path', target: '_blank', rel: 'noopener noreferrer' });
        const li = h('li', { class: 'page-row' }, count, h('div', { class: 'page-text' }, title, link), h('span', { class: 'page-bar' }, engaged, idle));
        row = { li, engaged, idle, count, title, link };
        this.rows.set(p.path, row);
      }
      replace(row.count, formatNumber(p.visitors));
      replace(row.title, p.title || p.path);
      replace(row.link, p.path);
      row.link.setAttribute('href', safeHref(p.url));
      row.engaged.style.width = percent(p.engaged, max);
      row.idle.style.width = percent(p.visitors - p.engaged, max);
      if (this.el.children[i] !== row.li) this.el.insertBefore(row.li, this.el.children[i] ?? null);
    });
  }
}

/** The same rule as h()'s href handling, for an attribute set after creation. */
function safeHref(url: string): string {
  return h('a', { href: url }).getAttribute('href') ?? '#';
}

/** Engaged minutes (bars) and events (line) per minute over the last 30 minutes. */
class MinuteChart {
  readonly el = h('div', { class: 'live-chart', 'data-testid': 'live-chart' });
  private plot: uPlot | undefined;
  private readonly resize = new ResizeObserver(() => this.plot?.setSize(this.size()));

  constructor() {
    this.resize.observe(this.el);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(280, this.el.clientWidth), height: 220 };
  }

  update(minutes: LiveSnapshot['minutes']): void {
    const data: uPlot.AlignedData = [
      minutes.map((m) => Date.parse(m.at) / 1000),
      minutes.map((m) => Math.round((m.engagedSeconds / 60) * 10) / 10),
      minutes.map((m) => m.events),
    ];
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2458d6';
    this.plot = new uPlot(
      {
        ...this.size(),
        legend: { show: true },
        cursor: { points: { show: false } },
        // Half a minute of room on each side, so the first and the current minute's bars are whole.
        scales: { x: { time: true, range: (_u, min, max) => [min - 30, max + 30] }, events: { auto: true } },
        axes: [
          { stroke: '#6b7385', grid: { show: false } },
          { label: 'engaged minutes', stroke: '#6b7385', grid: { stroke: '#eef0f4' }, size: 56 },
          { scale: 'events', label: 'events', side: 1, stroke: '#6b7385', grid: { show: false }, size: 56 },
        ],
        series: [
          {},
          {
            label: 'Engaged minutes',
            fill: `${accent}55`,
            stroke: accent,
            paths: uPlot.paths.bars!({ size: [0.7, 40] }),
            points: { show: false },
          },
          { label: 'Events', scale: 'events', stroke: '#e08a1e', width: 2, points: { show: false } },
        ],
      },
      data,
      this.el,
    );
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }
}

/**
 * The Live page: who is on the site right now, over `GET /api/live` (Server-Sent Events; the
 * browser reconnects by itself after a drop).
 */
export const livePage: Page = {
  path: '/live',
  title: 'Live',
  mount(root, ctx) {
    if (!ctx.sourceId) {
      replace(root, h('h1', {}, 'Live'), h('p', { class: 'muted' }, 'This workspace has no source yet.'));
      return () => {};
    }
    const status = h('span', { class: 'live-status connecting', 'data-testid': 'live-status' }, 'connecting…');
    const total = h('div', { class: 'live-total', 'data-testid': 'live-total' }, '–');
    const split = h('div', { class: 'live-split' });
    const splitBar = h('div', { class: 'live-split-bar' }, h('span', { class: 'seg engaged' }), h('span', { class: 'seg idle' }));
    const avg = h('div', { class: 'live-stat-value', 'data-testid': 'live-avg' }, '–');
    const epm = h('div', { class: 'live-stat-value', 'data-testid': 'live-epm' }, '–');
    const pages = new PageList();
    const referrers = card('Where they came from');
    const audience = card('New and returning');
    const scroll = card('How far they scrolled');
    const chart = new MinuteChart();
    const chartCard = card('Engaged time and events, last 30 minutes', 'wide');
    chartCard.body.append(chart.el);
    const pagesCard = card('Top pages right now', 'wide');
    pagesCard.body.append(h('p', { class: 'legend muted' }, h('span', { class: 'swatch engaged' }), 'engaged ', h('span', { class: 'swatch idle' }), 'idle'), pages.el);

    replace(
      root,
      h('div', { class: 'live-head' }, h('h1', {}, 'Live'), status),
      h(
        'section',
        { class: 'live-hero' },
        h('div', { class: 'live-now' }, total, h('div', { class: 'muted' }, 'people on the site now'), splitBar, split),
        h('div', { class: 'live-stat' }, h('div', { class: 'muted' }, 'Average engaged time'), avg),
        h('div', { class: 'live-stat' }, h('div', { class: 'muted' }, 'Events this minute'), epm),
      ),
      h('div', { class: 'live-grid' }, pagesCard.el, referrers.el, audience.el, scroll.el, chartCard.el),
    );

    const render = (s: LiveSnapshot): void => {
      const v = s.visitors;
      replace(total, formatNumber(v.total));
      replace(split, h('span', { class: 'engaged-text' }, `${formatNumber(v.engaged)} engaged`), ' · ', h('span', { class: 'idle-text' }, `${formatNumber(v.idle)} idle`));
      (splitBar.children[0] as HTMLElement).style.width = percent(v.engaged, Math.max(1, v.total));
      (splitBar.children[1] as HTMLElement).style.width = percent(v.idle, Math.max(1, v.total));
      replace(avg, duration(s.averageEngagedSeconds));
      const current = s.minutes[s.minutes.length - 1];
      replace(epm, formatNumber(current?.events ?? 0));
      pages.update(s.pages);
      const refMax = Math.max(1, ...REFERRERS.map(([k]) => s.referrers[k] ?? 0));
      replace(referrers.body, ...REFERRERS.map(([k, label]) => barRow(label, s.referrers[k] ?? 0, refMax, percent(s.referrers[k] ?? 0, v.total))));
      const a = s.audience;
      const audMax = Math.max(1, a.new, a.returning, a.unknown);
      replace(
        audience.body,
        barRow('New', a.new, audMax, percent(a.new, v.total)),
        barRow('Returning', a.returning, audMax, percent(a.returning, v.total)),
        a.unknown > 0 ? barRow('Unknown', a.unknown, audMax, 'cookieless or server-side') : null,
      );
      const scrollMax = Math.max(1, ...s.scrollDepth);
      replace(scroll.body, ...s.scrollDepth.map((n, i) => barRow(SCROLL_LABELS[i] ?? '', n, scrollMax)));
      chart.update(s.minutes);
    };

    const source = new EventSource(`/api/live?source=${encodeURIComponent(ctx.sourceId)}`);
    const setStatus = (cls: string, text: string) => {
      status.className = `live-status ${cls}`;
      replace(status, text);
    };
    source.addEventListener('snapshot', (e) => {
      setStatus('on', 'live');
      render(JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot);
    });
    source.addEventListener('unavailable', (e) => {
      const { message } = JSON.parse((e as MessageEvent<string>).data) as { message?: string };
      setStatus('off', message ?? 'live data is unavailable');
    });
    source.addEventListener('error', () => setStatus('off', 'reconnecting…'));
    return () => {
      source.close();
      chart.destroy();
    };
  },
};
