// A pipeline worker in a process of its own, for tests of several workers sharing one store.
// Env: META_URL, META_SCHEMA (Postgres metadata), WAREHOUSE_URL (Postgres warehouse), DIR,
// CONCURRENCY. Prints `ready <worker id>` once connected; stops when its stdin closes.
import { createLogger } from '../../src/observability/logger.js';
import { startPipelineWorker } from '../../src/pipelines/runner/worker.js';
import { openPostgresPipelineStore } from '../../src/pipelines/store/open.js';
import { openPostgresWarehouse } from '../../src/warehouse/postgres/index.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const store = await openPostgresPipelineStore({ url: env('META_URL'), schema: env('META_SCHEMA'), poolSize: 4 });
const warehouse = await openPostgresWarehouse({ url: env('WAREHOUSE_URL') });
await warehouse.ping();
const stop = new AbortController();
process.stdin.on('end', () => stop.abort());
process.stdin.resume();
process.on('SIGTERM', () => stop.abort());
const worker = startPipelineWorker({
  store,
  warehouse,
  dir: env('DIR'),
  logger: createLogger('warn', { role: 'test-worker' }),
  signal: stop.signal,
  concurrency: Number(process.env.CONCURRENCY ?? '4'),
  triggers: false,
  pollMs: 20,
  leaseMs: 10_000,
});
process.stdout.write(`ready ${worker.id}\n`);
await worker.done;
await warehouse.close();
await store.close();
process.stdout.write('done\n');
