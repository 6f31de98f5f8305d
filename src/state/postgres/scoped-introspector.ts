/**
 * A Kysely dialect for the metadata database whose introspector sees one schema only.
 *
 * Kysely's migrator asks the introspector whether its bookkeeping tables exist, and the stock
 * Postgres introspector answers by reading every table of the database through functions
 * (`has_schema_privilege`, `pg_get_serial_sequence`) that fail with 3F000 or 42P01 when another
 * client drops a schema or table during the query. Weir's metadata often shares a database with
 * other applications (and, in CI, with tests that create and drop schemas all the time), so a
 * start must not depend on nobody else dropping anything: this introspector reads the catalogue
 * of its own schema with plain joins.
 */
import { PostgresDialect, sql, type DatabaseIntrospector, type DatabaseMetadata, type DatabaseMetadataOptions, type Kysely, type SchemaMetadata, type TableMetadata } from 'kysely';

const KYSELY_TABLES = new Set(['kysely_migration', 'kysely_migration_lock']);

interface ColumnRow {
  table: string;
  schema: string;
  kind: string;
  column: string;
  type: string;
  type_schema: string;
  not_null: boolean;
  has_default: boolean;
}

class ScopedPostgresIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<any>;
  readonly #schema: string | undefined;

  constructor(db: Kysely<any>, schema: string | undefined) {
    this.#db = db;
    this.#schema = schema;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(this.#db);
    return rows;
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const schema = this.#schema === undefined ? sql`current_schema()` : sql`${this.#schema}`;
    const { rows } = await sql<ColumnRow>`
      select c.relname as table, ns.nspname as schema, c.relkind as kind, a.attname as column,
             typ.typname as type, tns.nspname as type_schema, a.attnotnull as not_null, a.atthasdef as has_default
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
        join pg_catalog.pg_attribute a on a.attrelid = c.oid
        join pg_catalog.pg_type typ on typ.oid = a.atttypid
        join pg_catalog.pg_namespace tns on tns.oid = typ.typnamespace
       where ns.nspname = ${schema} and c.relkind in ('r', 'v', 'p') and a.attnum > 0 and not a.attisdropped
       order by c.relname, a.attnum`.execute(this.#db);
    const tables = new Map<string, { name: string; schema: string; isView: boolean; columns: TableMetadata['columns'][number][] }>();
    for (const r of rows) {
      if (!options.withInternalKyselyTables && KYSELY_TABLES.has(r.table)) continue;
      let t = tables.get(r.table);
      if (t === undefined) tables.set(r.table, (t = { name: r.table, schema: r.schema, isView: r.kind === 'v', columns: [] }));
      t.columns.push({
        name: r.column,
        dataType: r.type,
        dataTypeSchema: r.type_schema,
        isNullable: !r.not_null,
        hasDefaultValue: r.has_default,
        // Only Kysely's migrator reads this introspector, and it never asks.
        isAutoIncrementing: false,
      });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

/**
 * `PostgresDialect` whose introspection is limited to `schema` (default: the current schema).
 *
 * @example
 * ```ts
 * const db = new Kysely<Database>({ dialect: new ScopedPostgresDialect({ pool }, 'weir') });
 * await db.introspection.getTables(); // the tables of schema weir only
 * ```
 */
export class ScopedPostgresDialect extends PostgresDialect {
  readonly #schema: string | undefined;

  constructor(config: ConstructorParameters<typeof PostgresDialect>[0], schema: string | undefined) {
    super(config);
    this.#schema = schema;
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new ScopedPostgresIntrospector(db, this.#schema);
  }
}
