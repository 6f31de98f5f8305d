// Entry point of a collector worker forked by `weir up`. The supervisor validated the
// configuration once; workers receive the result instead of reading files and env again.
import type { WeirConfig } from '../config/schema.js';
import { runCollectorWorker } from './collector-worker.js';

const config = JSON.parse(process.env.WEIR_WORKER_CONFIG ?? 'null') as WeirConfig | null;
const partition = Number(process.env.WEIR_WORKER_PARTITION);
if (config === null || !Number.isInteger(partition)) {
  console.error('worker-main is started by `weir up`, not directly');
  process.exit(2);
}
runCollectorWorker(Object.freeze(config), partition).catch((err) => {
  console.error(err);
  process.exit(1);
});
