import cluster, { type Worker } from 'node:cluster';
import { ERRORS, WeirError, type ErrorCode, type ErrorParams } from '../errors/catalogue.js';

/**
 * Request/response over the cluster IPC channel, for what a worker asks the supervisor: the
 * merged metrics of every process, and queries of the warehouse the supervisor holds. A
 * {@link WeirError} crosses with its code and parameters, so the worker answers with the same code.
 */
interface IpcRequest {
  type: 'weir:req';
  id: number;
  topic: string;
  payload?: unknown;
}
interface IpcResponse {
  type: 'weir:res';
  id: number;
  value?: unknown;
  error?: string;
  code?: ErrorCode;
  params?: ErrorParams;
}

let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
let listening = false;

/** From a worker: asks the supervisor to answer `topic`. */
export function requestFromPrimary<T>(topic: string, payload?: unknown, timeoutMs = 5000): Promise<T> {
  if (!listening) {
    listening = true;
    process.on('message', (m: IpcResponse) => {
      if (m?.type !== 'weir:res') return;
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.code !== undefined && m.code in ERRORS) p.reject(new WeirError(m.code, m.params));
      else if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
  }
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`supervisor did not answer ${topic}`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v as T);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    process.send?.({ type: 'weir:req', id, topic, payload } satisfies IpcRequest);
  });
}

/** In the supervisor: answers workers' requests with the handlers given per topic. */
export function serveWorkerRequests(handlers: Record<string, (payload: unknown) => Promise<unknown>>): void {
  cluster.on('message', (worker: Worker, m: IpcRequest) => {
    if (m?.type !== 'weir:req') return;
    const handler = handlers[m.topic];
    const reply = (r: Omit<IpcResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: 'weir:res', id: m.id, ...r } satisfies IpcResponse);
    };
    if (!handler) return reply({ error: `no handler for ${m.topic}` });
    handler(m.payload).then(
      (value) => reply({ value }),
      (err: unknown) =>
        reply(err instanceof WeirError ? { code: err.code, params: err.params } : { error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
