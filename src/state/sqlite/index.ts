export { openSqliteStateStore, type SqliteStateStoreOptions } from './sqlite-state-store.js';
