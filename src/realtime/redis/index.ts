export { openRedisRealtimeStore, type RedisRealtimeStoreOptions } from './redis-realtime-store.js';
