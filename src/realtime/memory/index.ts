export { createMemoryRealtimeStore } from './memory-realtime-store.js';
