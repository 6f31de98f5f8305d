import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, SqliteDialect, sql } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import { PreparedQuery, type Param } from './prepared-query.js';

interface Db {
  items: { id: string; n: number; note: string | null };
}

async function database(): Promise<Kysely<Db>> {
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  await db.schema.createTable('items').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).addColumn('note', 'text').execute();
  return db;
}

test('a prepared query runs with new values each time, keeps its constants, and runs inside transactions', async () => {
  const db = await database();
  const insert = new PreparedQuery(db, (d, p: Param<{ id: string; n: number }>) => d.insertInto('items').values({ id: p('id'), n: p('n'), note: 'fixed' }));
  // A name used twice, a value inside raw SQL, and constants between the placeholders.
  const bump = new PreparedQuery(db, (d, p: Param<{ id: string; by: number }>) =>
    d
      .updateTable('items')
      .set({ n: sql`n + ${p('by')}`, note: sql`${p('id')} || '!'` })
      .where('id', '=', p('id'))
      .where('n', '<', 100)
      .returning(['id', 'n', 'note']),
  );
  await insert.execute(db, { id: 'a', n: 1 });
  await insert.execute(db, { id: 'b', n: 2 });
  await db.transaction().execute(async (trx) => {
    assert.deepEqual((await bump.execute(trx, { id: 'a', by: 10 })).rows, [{ id: 'a', n: 11, note: 'a!' }]);
  });
  assert.deepEqual((await bump.execute(db, { id: 'b', by: 5 })).rows, [{ id: 'b', n: 7, note: 'b!' }]);
  const missing = await bump.execute(db, { id: 'nope', by: 1 });
  assert.deepEqual(missing.rows, []);
  assert.deepEqual(await db.selectFrom('items').selectAll().orderBy('id').execute(), [
    { id: 'a', n: 11, note: 'a!' },
    { id: 'b', n: 7, note: 'b!' },
  ]);
  // A rolled-back transaction leaves nothing behind.
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await insert.execute(trx, { id: 'c', n: 3 });
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.equal((await db.selectFrom('items').select('id').where('id', '=', 'c').execute()).length, 0);
  await db.destroy();
});

test('an update without RETURNING reports how many rows it changed', async () => {
  const db = await database();
  await db.insertInto('items').values([{ id: 'a', n: 1, note: null }, { id: 'b', n: 1, note: null }]).execute();
  const touch = new PreparedQuery(db, (d, p: Param<{ n: number }>) => d.updateTable('items').set({ note: 'seen' }).where('n', '=', p('n')));
  assert.equal((await touch.execute(db, { n: 1 })).numAffectedRows, 2n);
  assert.equal((await touch.execute(db, { n: 9 })).numAffectedRows, 0n);
  await db.destroy();
});
