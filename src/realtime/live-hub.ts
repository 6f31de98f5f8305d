import { WeirError } from '../errors/catalogue.js';
import type { LiveFeed } from './live-feed.js';
import type { TailEvent, TailPage } from './realtime-store.js';

/** Receives ready-made Server-Sent Event frames (`event: …\ndata: …\n\n`). */
export type FrameListener = (frame: string) => void;

export interface LiveHubOptions {
  /** How often a source's pollers ask the feed for changes. */
  pollMs: number;
  /** A snapshot goes out at least this often, changed or not. Default 1,000 ms. */
  maxSilenceMs?: number;
  /** Seconds each snapshot request took, for the `weir_live_snapshot_seconds` histogram. */
  onSnapshotLatency?(seconds: number): void;
}

/** One Server-Sent Event; `data` is one line of JSON; `id` comes back as Last-Event-ID on a reconnect. */
export function sseFrame(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function unavailableFrame(err: unknown): string {
  const e = err instanceof WeirError ? err : new WeirError('WEIR_LIVE_UNAVAILABLE', { detail: err instanceof Error ? err.message : String(err) });
  return sseFrame('unavailable', e.toJSON());
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

/** A loop that runs while a source has listeners. */
abstract class Poller<L> {
  readonly listeners = new Set<L>();
  private readonly stop = new AbortController();
  private running = false;

  constructor(
    protected readonly feed: LiveFeed,
    protected readonly sourceId: string,
    protected readonly opts: LiveHubOptions,
    private readonly onIdle: () => void,
  ) {}

  /** Starts the loop unless it runs (or the hub closed). */
  start(): void {
    if (this.running || this.stop.signal.aborted) return;
    this.running = true;
    void (async () => {
      let failing = false;
      while (this.listeners.size > 0 && !this.stop.signal.aborted) {
        try {
          await this.poll();
          failing = false;
        } catch (err) {
          // Said once per outage, not once per poll.
          if (!failing) this.broadcast(unavailableFrame(err));
          failing = true;
        }
        await sleep(this.opts.pollMs, this.stop.signal);
      }
      this.running = false;
      this.onIdle();
    })();
  }

  close(): void {
    this.stop.abort();
  }

  protected abstract poll(): Promise<void>;
  protected abstract broadcast(frame: string): void;
}

class SnapshotPoller extends Poller<FrameListener> {
  private version: number | undefined;
  /** The last frame and when it went out, for listeners that join between polls. */
  last: { frame: string; at: number } | undefined;

  protected async poll(): Promise<void> {
    const maxSilence = this.opts.maxSilenceMs ?? 1000;
    // Half a poll early, so the next push is never later than maxSilence.
    const due = this.last === undefined || Date.now() - this.last.at >= maxSilence - this.opts.pollMs / 2;
    const started = performance.now();
    const answer = await this.feed.snapshot(this.sourceId, due ? undefined : this.version);
    this.opts.onSnapshotLatency?.((performance.now() - started) / 1000);
    if ('unchanged' in answer) return;
    this.version = answer.version;
    this.last = { frame: sseFrame('snapshot', answer), at: Date.now() };
    this.broadcast(this.last.frame);
  }

  protected broadcast(frame: string): void {
    for (const l of this.listeners) l(frame);
  }
}

/** A tail listener: it has sent its first page up to `cursor`, and holds what arrives before that. */
interface TailListener {
  send: FrameListener;
  cursor: number | undefined;
  held: Array<{ page: TailPage; reset: boolean }>;
}

class TailPoller extends Poller<TailListener> {
  private cursor: number | undefined;

  protected async poll(): Promise<void> {
    const page = await this.feed.tail(this.sourceId, this.cursor);
    // A cursor that went back means the store restarted: its numbers start again.
    const reset = this.cursor !== undefined && page.cursor < this.cursor;
    this.cursor = page.cursor;
    // The first page holds every kept event; listeners drop what their own first page had.
    if (page.events.length === 0) return;
    for (const l of this.listeners) deliver(l, page, reset);
  }

  protected broadcast(frame: string): void {
    for (const l of this.listeners) l.send(frame);
  }
}

/** Sends the part of `page` a listener has not had yet. */
function deliver(l: TailListener, page: TailPage, reset: boolean): void {
  if (l.cursor === undefined) {
    l.held.push({ page, reset });
    return;
  }
  const firstSeq = page.cursor - page.events.length + 1;
  let events: TailEvent[] = page.events;
  if (!reset && firstSeq <= l.cursor) events = page.events.slice(l.cursor - firstSeq + 1);
  l.cursor = page.cursor;
  if (events.length > 0) l.send(sseFrame('events', { events }, page.cursor));
}

/**
 * The live data of one process, shared by all its Server-Sent Event clients: per source at most
 * one snapshot poller and one tail poller, running only while someone listens. A snapshot goes
 * out within a poll of any change and at least once a second; the tail sends the kept events
 * first, then only new ones.
 *
 * @example
 * ```ts
 * const hub = new LiveHub(ipcFeed(request), { pollMs: 100 });
 * const stop = hub.snapshots('src_1', (frame) => res.write(frame));
 * stop(); hub.close();
 * ```
 */
export class LiveHub {
  private readonly snapshotPollers = new Map<string, SnapshotPoller>();
  private readonly tailPollers = new Map<string, TailPoller>();

  constructor(
    private readonly feed: LiveFeed,
    private readonly opts: LiveHubOptions,
  ) {}

  /** Sends `event: snapshot` frames of a source to `send`; returns the unsubscribe function. */
  snapshots(sourceId: string, send: FrameListener): () => void {
    const poller = this.poller(this.snapshotPollers, sourceId, SnapshotPoller);
    const last = poller.last;
    if (last !== undefined && Date.now() - last.at < 1000) send(last.frame);
    poller.listeners.add(send);
    poller.start();
    return () => poller.listeners.delete(send);
  }

  /**
   * Sends `event: events` frames of a source: first the kept events (those after `after`, the
   * Last-Event-ID of a reconnecting client), then new ones. Each frame's id is its last event's
   * sequence number.
   */
  tail(sourceId: string, send: FrameListener, after?: number): () => void {
    const poller = this.poller(this.tailPollers, sourceId, TailPoller);
    const listener: TailListener = { send, cursor: undefined, held: [] };
    poller.listeners.add(listener);
    poller.start();
    this.feed.tail(sourceId, after).then(
      (page) => {
        if (!poller.listeners.has(listener)) return;
        listener.cursor = page.cursor;
        send(sseFrame('events', { events: page.events }, page.cursor));
        for (const h of listener.held.splice(0)) deliver(listener, h.page, h.reset);
      },
      (err: unknown) => {
        if (!poller.listeners.has(listener)) return;
        send(unavailableFrame(err));
        // Without a first page there is no cursor: everything after this goes out as it comes.
        listener.cursor = 0;
        for (const h of listener.held.splice(0)) deliver(listener, h.page, true);
      },
    );
    return () => poller.listeners.delete(listener);
  }

  /** Stops every poller. */
  close(): void {
    for (const p of [...this.snapshotPollers.values(), ...this.tailPollers.values()]) p.close();
  }

  private poller<P extends Poller<unknown>>(
    map: Map<string, P>,
    sourceId: string,
    Kind: new (feed: LiveFeed, sourceId: string, opts: LiveHubOptions, onIdle: () => void) => P,
  ): P {
    let p = map.get(sourceId);
    if (p === undefined) {
      const created: P = new Kind(this.feed, sourceId, this.opts, () => {
        // A listener may have joined after the loop last looked: keep the poller, start it again.
        if (map.get(sourceId) !== created) return;
        if (created.listeners.size > 0) created.start();
        else map.delete(sourceId);
      });
      map.set(sourceId, (p = created));
    }
    return p;
  }
}
