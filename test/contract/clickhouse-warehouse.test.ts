import { clickHouseFixture } from '../helpers/warehouse-fixtures.js';
import { warehouseContract } from './warehouse.contract.js';

warehouseContract('clickhouse', clickHouseFixture);
