export { openPostgresDatabase, type PostgresDatabase, type PostgresDatabaseOptions } from './postgres-database.js';
export { openPostgresStateStore, isPostgresUniqueViolation } from './postgres-state-store.js';
