/** One Server-Sent Event as received, with the time it arrived (performance.now()). */
export interface SseEvent {
  event: string;
  data: any;
  at: number;
}

/** An open Server-Sent Events stream, read with fetch as a browser's EventSource would. */
export interface SseStream {
  status: number;
  /** Every event so far, in order. */
  events: SseEvent[];
  /** Comment lines (heartbeats) so far. */
  comments: number;
  /** Resolves with the first event (at index `from` or later) named `event` for which `match` holds. */
  next(event: string, match?: (data: any) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  /** Resolves when the stream ends: undefined when the server ended it, else the network error. */
  ended: Promise<Error | undefined>;
  close(): void;
}

/**
 * Opens `url` as an event stream (WHATWG framing: `event:`/`data:` lines, a blank line ends an
 * event, `:` starts a comment).
 *
 * @example
 * ```ts
 * const live = await openSse(`${url}/api/live?source=default`, { authorization: `Bearer ${token}` });
 * const snap = await live.next('snapshot', (s) => s.visitors.total > 0);
 * live.close();
 * ```
 */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  const state = { comments: 0 };
  const ended = (async (): Promise<Error | undefined> => {
    if (!res.body || res.status !== 200) return undefined;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) state.comments++;
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')), at: performance.now() });
          for (const w of waiters) w();
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) return err as Error;
    }
    return undefined;
  })();
  return {
    status: res.status,
    events,
    get comments() {
      return state.comments;
    },
    ended,
    next(event, match = () => true, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find((e) => e.event === event && match(e.data));
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${event} event matched within ${timeoutMs} ms; last: ${JSON.stringify(events.at(-1))?.slice(0, 500)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
}
