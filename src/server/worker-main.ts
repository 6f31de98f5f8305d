// Entry point of a collector worker forked by `weir up` or `weir collector`. The supervisor
// validated the configuration once; workers receive the result instead of reading files and env
// again. `weir up` assigns each worker its partition; `weir collector` workers claim free ones.
import type { WeirConfig } from '../config/schema.js';
import { runCollectorWorker } from './collector-worker.js';
import type { Surface } from './roles.js';

const config = JSON.parse(process.env.WEIR_WORKER_CONFIG ?? 'null') as WeirConfig | null;
const assigned = process.env.WEIR_WORKER_PARTITION === 'claim' ? 'claim' : Number(process.env.WEIR_WORKER_PARTITION);
const surface = (process.env.WEIR_WORKER_SURFACE ?? 'all') as Surface;
if (config === null || (assigned !== 'claim' && !Number.isInteger(assigned))) {
  console.error('worker-main is started by `weir up` or `weir collector`, not directly');
  process.exit(2);
}
runCollectorWorker(Object.freeze(config), assigned, { surface }).catch((err) => {
  console.error(err);
  process.exit(1);
});
