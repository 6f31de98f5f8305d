import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStateStore } from '../../src/state/postgres/index.js';
import type { StateStore } from '../../src/state/state-store.js';
import { stateStoreContract, type StateStoreFixture } from './state-store.contract.js';
import { dropPostgresSchema, POSTGRES_URL, postgresUnreachable } from '../helpers/warehouse-fixtures.js';
import { requireOrSkip, uniqueTag } from '../helpers/pipeline-fixtures.js';

/** A store on a fresh schema of the local Postgres; stores opened by `openAnother` have their own pools. */
async function postgresFixture(): Promise<StateStoreFixture & { schema: string }> {
  const schema = uniqueTag('wstate');
  const opened: StateStore[] = [];
  const open = async (): Promise<StateStore> => {
    const store = await openPostgresStateStore({ url: POSTGRES_URL, schema, poolSize: 4 });
    opened.push(store);
    return store;
  };
  return {
    schema,
    store: await open(),
    openAnother: open,
    async cleanup() {
      for (const s of opened) await s.close();
      await dropPostgresSchema(schema);
    },
  };
}

const skip = await postgresUnreachable();

if (skip === undefined) {
  stateStoreContract('postgres', postgresFixture);

  describe('Postgres metadata migrations', () => {
    it('set up a fresh schema while other clients drop schemas of the same database', async () => {
      // Kysely's stock introspector, which its migrator asks whether its bookkeeping table exists,
      // reads every table of the database in a query Postgres fails (3F000) when a schema is
      // dropped under it; seen in CI, where tests share a database. Churners drop schemas with
      // tables in a loop while stores are set up.
      let churning = true;
      let dropped = 0;
      const churner = async (): Promise<void> => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          while (churning) {
            const s = client.escapeIdentifier(uniqueTag('wchurn'));
            await client.query(`create schema ${s}; create table ${s}.t (id serial primary key, a text)`);
            await client.query(`drop schema ${s} cascade`);
            dropped++;
          }
        } finally {
          await client.end();
        }
      };
      const churners = Array.from({ length: 4 }, churner);
      const schemas: string[] = [];
      try {
        while (dropped < 8) await new Promise((resolve) => setTimeout(resolve, 5));
        for (let round = 0; round < 10; round++) {
          const batch = Array.from({ length: 2 }, () => uniqueTag('wmigr'));
          schemas.push(...batch);
          await Promise.all(
            batch.map(async (schema) => {
              const store = await openPostgresStateStore({ url: POSTGRES_URL, schema, poolSize: 2 });
              try {
                await store.bootstrap(); // applies the migrations
              } finally {
                await store.close();
              }
            }),
          );
        }
      } finally {
        churning = false;
        await Promise.all(churners);
        for (const schema of schemas) await dropPostgresSchema(schema);
      }
      assert.ok(dropped > 8, 'the churners dropped schemas while the stores were set up');
    });
  });
} else {
  describe('StateStore contract: postgres', () => {
    it('needs PostgreSQL', (t) => {
      requireOrSkip('PostgreSQL', { skip }, (reason) => t.skip(reason));
    });
  });
}

describe('Postgres state store', () => {
  let reason: string | undefined;
  before(async () => {
    reason = await postgresUnreachable();
  });

  it('migrates once when several stores bootstrap a new schema at the same time', async (t) => {
    if (!requireOrSkip('PostgreSQL', reason === undefined ? {} : { skip: reason }, (r) => t.skip(r))) return;
    const fx = await postgresFixture();
    try {
      const others = await Promise.all([1, 2, 3].map(() => fx.openAnother()));
      const results = await Promise.all([fx.store, ...others].map((s) => s.bootstrap()));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.source.writeKey)).size, 1);
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        // The tables are in the fixture's schema, not in public.
        const { rows } = await client.query<{ n: string }>(
          'select count(*) as n from information_schema.tables where table_schema = $1 and table_name = $2',
          [fx.schema, 'workspaces'],
        );
        assert.equal(Number(rows[0]!.n), 1);
      } finally {
        await client.end();
      }
    } finally {
      await fx.cleanup();
    }
  });

  it('an unreachable server rejects instead of hanging', async () => {
    const store = await openPostgresStateStore({ url: 'postgres://postgres@127.0.0.1:1/test' });
    try {
      await assert.rejects(store.bootstrap());
    } finally {
      await store.close();
    }
  });
});
