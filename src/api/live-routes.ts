import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { StateStore } from '../state/state-store.js';
import type { FrameListener, LiveHub } from '../realtime/live-hub.js';
import { requireSource } from './auth.js';

export interface LiveDeps {
  state: StateStore;
  hub: LiveHub;
  /** Comment lines at least this often keep proxies from closing quiet streams. Default 15 s. */
  heartbeatMs?: number;
  /** Open streams by kind, for the `weir_live_clients` gauge. */
  onClients?(stream: 'live' | 'tail', delta: number): void;
}

/** A stream whose client reads slower than this much unsent data is closed; it reconnects. */
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * The live API, as Server-Sent Events; both need the viewer role in the source's workspace.
 *
 * - `GET /api/live?source=<id>`: `event: snapshot` frames with a `LiveSnapshot`, within a poll
 *   of any change and at least once a second.
 * - `GET /api/events/tail?source=<id>`: `event: events` frames, `{"events":[…]}` newest last; the
 *   first holds the recent events, the next ones only new events. A reconnecting EventSource sends
 *   the id of the last frame it had (Last-Event-ID) and gets only what came after it.
 *
 * Either may also send `event: unavailable` (`{code, message}`) while the real-time store cannot be
 * reached. Streams end when the client goes away or the server drains.
 *
 * @example
 * ```ts
 * // curl -N -H "authorization: Bearer $TOKEN" 'localhost:8080/api/live?source=default'
 * const es = new EventSource('/api/live?source=src_1');
 * es.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
 * ```
 */
export async function liveRoutes(app: FastifyInstance, deps: LiveDeps): Promise<void> {
  const open = new Set<ServerResponse>();
  // Streams never finish on their own; without this, a drain would wait for every viewer to leave.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  const stream = (kind: 'live' | 'tail', subscribe: (sourceId: string, send: FrameListener, req: FastifyRequest) => () => void) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const source = await requireSource(deps.state, req, (req.query as { source?: unknown }).source, 'viewer');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx buffers responses unless told not to.
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      open.add(res);
      deps.onClients?.(kind, 1);
      const send: FrameListener = (frame) => {
        if (res.writableEnded) return;
        if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
        else res.write(frame);
      };
      const unsubscribe = subscribe(source.id, send, req);
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), deps.heartbeatMs ?? 15_000);
      res.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
        deps.onClients?.(kind, -1);
      });
      return reply;
    };

  app.get('/api/live', stream('live', (id, send) => deps.hub.snapshots(id, send)));
  app.get('/api/events/tail', stream('tail', (id, send, req) => deps.hub.tail(id, send, lastEventId(req))));
}

/** The sequence number an EventSource sends back when it reconnects, if it is one. */
function lastEventId(req: FastifyRequest): number | undefined {
  const v = req.headers['last-event-id'];
  return typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}
