export { openSqliteDatabase, openSqliteStateStore, type SqliteDatabase, type SqliteStateStoreOptions } from './sqlite-state-store.js';
