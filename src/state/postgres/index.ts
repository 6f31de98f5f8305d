export { openPostgresDatabase, type PostgresDatabase, type PostgresDatabaseOptions } from './postgres-database.js';
