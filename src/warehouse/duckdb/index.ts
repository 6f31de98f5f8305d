export { openDuckDbWarehouse, type DuckDbWarehouseOptions } from './duckdb-warehouse.js';
