import { createMemoryRealtimeStore } from '../../src/realtime/memory/index.js';
import { realtimeStoreContract } from './realtime-store.contract.js';

realtimeStoreContract('memory', async (windows) => {
  const store = createMemoryRealtimeStore(windows);
  return { store, cleanup: () => store.close() };
});
