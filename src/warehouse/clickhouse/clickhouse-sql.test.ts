import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mutatedTable, splitStatements } from './clickhouse-sql.js';

describe('splitStatements', () => {
  it('splits at semicolons outside quotes and comments', () => {
    assert.deepEqual(splitStatements("insert into t values ('a;b', \"c;d\", `e;f`); select 1"), [
      "insert into t values ('a;b', \"c;d\", `e;f`)",
      'select 1',
    ]);
    assert.deepEqual(splitStatements("select 'it\\'s;' ; select 'x'';y'"), ["select 'it\\'s;'", "select 'x'';y'"]);
    assert.deepEqual(splitStatements('select 1 -- a; b\n; /* c; d */ select 2;'), ['select 1 -- a; b', '/* c; d */ select 2']);
  });

  it('leaves out statements of only whitespace and comments', () => {
    assert.deepEqual(splitStatements(' ;; -- only a comment\n ; /* x */'), []);
    assert.deepEqual(splitStatements(''), []);
  });
});

describe('mutatedTable', () => {
  it('finds the table of ALTER … DELETE and UPDATE, qualified or not', () => {
    assert.deepEqual(mutatedTable('ALTER TABLE t DELETE WHERE 1', 'web'), { schema: 'web', table: 't' });
    assert.deepEqual(mutatedTable('-- why\n alter table `an`.`we``ird` update x = 1 where 1', 'web'), { schema: 'an', table: 'we`ird' });
    assert.equal(mutatedTable('ALTER TABLE t ADD COLUMN x Int8', 'web'), undefined);
    assert.equal(mutatedTable('INSERT INTO t SELECT 1', 'web'), undefined);
  });
});
