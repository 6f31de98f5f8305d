/**
 * The ClickHouse adapter of the Warehouse port, over the HTTP interface (port 8123), for servers
 * from 18.16 (Debian 12's `clickhouse-server`) on. A schema is a database; each table is a
 * ReplacingMergeTree ordered by its key.
 *
 * @example
 * ```ts
 * import { openClickHouseWarehouse } from './warehouse/clickhouse/index.js';
 * const wh = await openClickHouseWarehouse({ url: 'http://127.0.0.1:8123' });
 * await wh.ping();
 * ```
 */
export { openClickHouseWarehouse, type ClickHouseWarehouseOptions } from './clickhouse-warehouse.js';
