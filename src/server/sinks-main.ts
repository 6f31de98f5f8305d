// Entry point of the sinks process forked by `weir up`. It lowers its priority first: on Linux
// nice is per thread and new threads inherit it, so every thread this process starts later (the
// libuv pool, DuckDB's workers) yields the CPU to the collectors, and a sink that cannot keep up
// lags behind in the log instead of slowing acknowledgements.
import { setPriority } from 'node:os';
import type { WeirConfig } from '../config/schema.js';

const config = JSON.parse(process.env.WEIR_WORKER_CONFIG ?? 'null') as WeirConfig | null;
if (config === null) {
  console.error('sinks-main is started by `weir up`, not directly');
  process.exit(2);
}
try {
  setPriority(config.sinks.nice);
} catch {
  // Not permitted here: run at the inherited priority.
}
const { runSinksWorker } = await import('./sinks-worker.js');
await runSinksWorker(Object.freeze(config));
