export { openPostgresWarehouse, type PostgresWarehouseOptions } from './postgres-warehouse.js';
export type { PgClientLike, PgPoolLike, PgQueryConfig, PgQueryResult, PgTypeParsers } from './pg-pool.js';
