import { ERRORS, WeirError, type ErrorCode, type ErrorParams } from '../errors/catalogue.js';

/**
 * Request/response over a Node IPC channel (a cluster worker, a forked child, or `process` on the
 * child side), for what `weir up`'s processes ask each other: merged metrics, and queries of the
 * warehouse that the sinks process holds. A {@link WeirError} crosses with its code and
 * parameters, so the answering process's error code reaches the HTTP client unchanged.
 *
 * @example
 * ```ts
 * // child
 * new IpcChannel(process).serve({ 'weir:ping': async () => 'pong' });
 * // parent
 * await new IpcChannel(child).request('weir:ping'); // 'pong'
 * ```
 */
export class IpcChannel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  constructor(private readonly port: IpcPort) {
    port.on('message', (m: IpcMessage) => {
      if (m?.type !== 'weir:res') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.code !== undefined && m.code in ERRORS) p.reject(new WeirError(m.code, m.params));
      else if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
  }

  /** Asks the other side to answer `topic`. */
  request<T>(topic: string, payload?: unknown, timeoutMs = 5000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!isOpen(this.port)) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`cannot ask ${topic}: the channel is closed`));
        return;
      }
      this.port.send!({ type: 'weir:req', id, topic, payload } satisfies IpcMessage);
    });
  }

  /** Answers the other side's requests with the handler of each topic. */
  serve(handlers: Record<string, (payload: unknown) => Promise<unknown>>): void {
    this.port.on('message', (m: IpcMessage) => {
      if (m?.type !== 'weir:req') return;
      const reply = (r: Partial<IpcMessage>) => {
        if (isOpen(this.port)) this.port.send!({ type: 'weir:res', id: m.id, ...r });
      };
      const handler = handlers[m.topic ?? ''];
      if (!handler) return reply({ error: `no handler for ${m.topic}` });
      handler(m.payload).then(
        (value) => reply({ value }),
        (err: unknown) =>
          reply(err instanceof WeirError ? { code: err.code, params: err.params } : { error: err instanceof Error ? err.message : String(err) }),
      );
    });
  }
}

/** What a worker, a forked child and `process` (in a child) have in common. */
export interface IpcPort {
  send?(message: unknown): boolean;
  // The loose signature is the one overload that a cluster Worker, a ChildProcess and `process` share.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** ChildProcess and `process`. */
  readonly connected?: boolean;
  /** cluster Worker. */
  isConnected?(): boolean;
}

function isOpen(port: IpcPort): boolean {
  return port.send !== undefined && (port.isConnected ? port.isConnected() : port.connected === true);
}

interface IpcMessage {
  type: 'weir:req' | 'weir:res';
  id: number;
  topic?: string;
  payload?: unknown;
  value?: unknown;
  error?: string;
  code?: ErrorCode;
  params?: ErrorParams;
}
