import type { Cell, Discard, MappedRow } from './segment-schema.js';
import { coerce, mapEvent } from './segment-schema.js';
import type { ColumnSpec, ColumnType, Value, Warehouse } from './warehouse.js';

/** The table every schema gets for values that could not be stored where they belonged. */
export const DISCARDS_TABLE = 'weir_discards';

const DISCARD_COLUMNS: ColumnSpec[] = [
  { name: 'id', type: 'varchar' },
  { name: 'table_name', type: 'varchar' },
  { name: 'column_name', type: 'varchar' },
  { name: 'value', type: 'varchar' },
  { name: 'reason', type: 'varchar' },
  { name: 'message_id', type: 'varchar' },
  { name: 'uuid_ts', type: 'timestamp' },
];

export interface LoadStats {
  events: number;
  rows: number;
  discards: number;
  /** Tables created or given new columns in this load. */
  evolved: string[];
}

/** When two values of one new column disagree within a batch, the type that holds both. */
function widen(a: ColumnType, b: ColumnType): ColumnType | undefined {
  if (a === b) return a;
  if ((a === 'bigint' && b === 'double') || (a === 'double' && b === 'bigint')) return 'double';
  if ((a === 'timestamp' && b === 'varchar') || (a === 'varchar' && b === 'timestamp')) return 'varchar';
  return undefined;
}

/**
 * Loads events of one source into its schema: maps them to Segment tables, creates tables and
 * adds columns as new fields appear, coerces values to existing column types and sends the ones
 * that do not fit to `weir_discards`, then writes each table idempotently. It remembers each
 * schema's columns, so the warehouse is described once per schema, not per batch.
 *
 * @example
 * ```ts
 * const writer = new TableWriter(warehouse);
 * await writer.load('web', events, new Date());
 * ```
 */
export class TableWriter {
  private readonly known = new Map<string, Map<string, Map<string, ColumnType>>>();

  constructor(private readonly warehouse: Warehouse) {}

  /** A coerced value, or a conflict when the engine cannot hold that timestamp. */
  private fits(c: ReturnType<typeof coerce>): ReturnType<typeof coerce> {
    const range = this.warehouse.timestampRange;
    if (!c.ok || range === undefined || !(c.value instanceof Date)) return c;
    if (c.value < range.min || c.value > range.max) {
      return { ok: false, reason: `timestamp outside what ${this.warehouse.engine} can store` };
    }
    return c;
  }

  /** Forgets what it knows of the schemas, e.g. after a failed write left it unsure. */
  reset(): void {
    this.known.clear();
  }

  async load(schema: string, events: Array<Record<string, unknown>>, loadedAt: Date): Promise<LoadStats> {
    const tables = new Map<string, { mode: MappedRow['mode']; rows: Array<Map<string, Cell>> }>();
    const discards: Discard[] = [];
    for (const event of events) {
      const mapped = mapEvent(event);
      discards.push(...mapped.discards);
      for (const row of mapped.rows) {
        let t = tables.get(row.table);
        if (!t) tables.set(row.table, (t = { mode: row.mode, rows: [] }));
        t.rows.push(row.cells);
      }
    }

    const schemaColumns = await this.describe(schema);
    const stats: LoadStats = { events: events.length, rows: 0, discards: 0, evolved: [] };
    for (const [table, { mode, rows }] of tables) {
      const merged = mode === 'upsert' ? foldByKey(rows) : rows;
      const columns = await this.evolve(schema, schemaColumns, table, merged, stats);
      stats.rows += await this.writeRows(schema, table, mode, merged, columns, discards, loadedAt);
    }
    if (discards.length > 0) {
      await this.evolve(schema, schemaColumns, DISCARDS_TABLE, [], stats, DISCARD_COLUMNS);
      const rows: Value[][] = discards.map((d) => [
        `${d.messageId}/${d.table}/${d.column}`,
        d.table,
        d.column,
        d.value,
        d.reason,
        d.messageId,
        loadedAt,
      ]);
      await this.warehouse.write({ schema, table: DISCARDS_TABLE }, DISCARD_COLUMNS, rows, 'insert', 'id');
      stats.discards = discards.length;
    }
    return stats;
  }

  private async describe(schema: string): Promise<Map<string, Map<string, ColumnType>>> {
    let tables = this.known.get(schema);
    if (tables === undefined) {
      tables = await this.warehouse.describe(schema);
      if (tables.size === 0) await this.warehouse.ensureSchema(schema);
      this.known.set(schema, tables);
    }
    return tables;
  }

  /**
   * Makes the table hold every column the rows need (and `fixed` ones); returns the table's
   * column types. A value whose type cannot live in its column is a discard, found by `writeRows`.
   */
  private async evolve(
    schema: string,
    schemaColumns: Map<string, Map<string, ColumnType>>,
    table: string,
    rows: Array<Map<string, Cell>>,
    stats: LoadStats,
    fixed?: ColumnSpec[],
  ): Promise<Map<string, ColumnType>> {
    const existing = schemaColumns.get(table);
    const wanted = new Map<string, ColumnType>();
    if (fixed) for (const c of fixed) wanted.set(c.name, c.type);
    for (const row of rows) {
      for (const [column, cell] of row) {
        if (existing?.has(column)) continue;
        const seen = wanted.get(column);
        if (seen === undefined) wanted.set(column, cell.type);
        else wanted.set(column, widen(seen, cell.type) ?? seen);
      }
    }
    if (rows.length > 0) wanted.set('uuid_ts', 'timestamp');
    const missing = [...wanted].filter(([c]) => !existing?.has(c)).map(([name, type]) => ({ name, type }));
    if (missing.length === 0) return existing!;
    const ref = { schema, table };
    if (existing === undefined) await this.warehouse.createTable(ref, ensureId(missing), 'id');
    else await this.warehouse.addColumns(ref, missing);
    const columns = new Map(existing ?? []);
    for (const c of ensureId(missing)) columns.set(c.name, c.type);
    schemaColumns.set(table, columns);
    stats.evolved.push(table);
    return columns;
  }

  private async writeRows(
    schema: string,
    table: string,
    mode: MappedRow['mode'],
    rows: Array<Map<string, Cell>>,
    columns: Map<string, ColumnType>,
    discards: Discard[],
    loadedAt: Date,
  ): Promise<number> {
    // Rows are written in groups of identical column sets: a column a row does not have must not
    // be written as null in upsert mode (it would erase a stored trait), and grouping keeps each
    // write's column list exact in insert mode too.
    const groups = new Map<string, { specs: ColumnSpec[]; rows: Value[][] }>();
    for (const row of rows) {
      const names = [...row.keys()].sort();
      const signature = names.join('\u0000');
      let g = groups.get(signature);
      if (!g) {
        const specs = names.map((name) => ({ name, type: columns.get(name)! }));
        specs.push({ name: 'uuid_ts', type: 'timestamp' });
        groups.set(signature, (g = { specs, rows: [] }));
      }
      const values: Value[] = [];
      for (const spec of g.specs) {
        if (spec.name === 'uuid_ts') {
          values.push(loadedAt);
          continue;
        }
        const cell = row.get(spec.name)!;
        const c = this.fits(coerce(cell, spec.type));
        if (c.ok) values.push(c.value);
        else {
          values.push(null);
          discards.push({
            table,
            column: spec.name,
            value: JSON.stringify(cell.value instanceof Date ? cell.value.toISOString() : cell.value) ?? 'null',
            reason: c.reason,
            messageId: String(row.get('id')?.value ?? ''),
          });
        }
      }
      g.rows.push(values);
    }
    let written = 0;
    for (const g of groups.values()) {
      await this.warehouse.write({ schema, table }, g.specs, g.rows, mode, 'id');
      written += g.rows.length;
    }
    return written;
  }
}

function ensureId(columns: ColumnSpec[]): ColumnSpec[] {
  return columns.some((c) => c.name === 'id') ? columns : [{ name: 'id', type: 'varchar' }, ...columns];
}

/**
 * For upserts: folds the rows of each key, in order, into one row, so that several identifies of
 * one user in a batch end with the latest value of every trait any of them set.
 */
function foldByKey(rows: Array<Map<string, Cell>>): Array<Map<string, Cell>> {
  const byKey = new Map<unknown, Map<string, Cell>>();
  for (const row of rows) {
    const key = row.get('id')?.value;
    const seen = byKey.get(key);
    if (seen === undefined) byKey.set(key, new Map(row));
    else for (const [column, cell] of row) seen.set(column, cell);
  }
  return [...byKey.values()];
}
