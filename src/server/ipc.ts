import cluster, { type Worker } from 'node:cluster';

/**
 * Request/response over the cluster IPC channel, for the few things a worker asks the supervisor
 * (today: the merged metrics of every process).
 */
interface IpcRequest {
  type: 'weir:req';
  id: number;
  topic: string;
}
interface IpcResponse {
  type: 'weir:res';
  id: number;
  value?: unknown;
  error?: string;
}

let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
let listening = false;

/** From a worker: asks the supervisor to answer `topic`. */
export function requestFromPrimary<T>(topic: string, timeoutMs = 5000): Promise<T> {
  if (!listening) {
    listening = true;
    process.on('message', (m: IpcResponse) => {
      if (m?.type !== 'weir:res') return;
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
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
    process.send?.({ type: 'weir:req', id, topic } satisfies IpcRequest);
  });
}

/** In the supervisor: answers workers' requests with the handlers given per topic. */
export function serveWorkerRequests(handlers: Record<string, () => Promise<unknown>>): void {
  cluster.on('message', (worker: Worker, m: IpcRequest) => {
    if (m?.type !== 'weir:req') return;
    const handler = handlers[m.topic];
    const reply = (r: Omit<IpcResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: 'weir:res', id: m.id, ...r } satisfies IpcResponse);
    };
    if (!handler) return reply({ error: `no handler for ${m.topic}` });
    handler().then(
      (value) => reply({ value }),
      (err: Error) => reply({ error: err.message }),
    );
  });
}
