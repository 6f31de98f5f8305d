import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { WeirError } from '../../errors/catalogue.js';
import { openSqliteStateStore } from '../../state/sqlite/index.js';
import type { CliContext } from '../context.js';
import { register as registerSources } from './sources.js';
import { register as registerUsage } from './usage.js';
import { register as registerWorkspaces } from './workspaces.js';

/**
 * `weir workspaces`, `weir sources update` and `weir usage` run in this process against a
 * temporary store; main.ts turns the errors seen here into exit code 2 (commander's and
 * WEIR_CLI_INVALID_OPTION), which the e2e tests check once through the real binary.
 */
describe('settings and usage commands', () => {
  let dir: string;
  let lines: string[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(...args: string[]): Promise<string[]> {
    const ctx: CliContext = { openState: () => openSqliteStateStore({ file: join(dir, 'weir.sqlite') }), out: (l) => lines.push(l), err: () => {} };
    const program = new Command('weir').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerSources(program, ctx);
    registerWorkspaces(program, ctx);
    registerUsage(program, ctx);
    lines = [];
    await program.parseAsync(['node', 'weir', ...args]);
    return lines;
  }

  /** The option and value a refusal names; main.ts exits 2 with it. */
  async function refused(...args: string[]): Promise<string> {
    try {
      await run(...args);
    } catch (err) {
      if (err instanceof CommanderError) return err.message;
      assert.ok(err instanceof WeirError, String(err));
      assert.equal(err.code, 'WEIR_CLI_INVALID_OPTION');
      return err.message;
    }
    assert.fail(`weir ${args.join(' ')} was accepted`);
  }

  it('sets workspace quotas and source settings with --set key=value', async () => {
    await run('workspaces', 'create', 'acme');
    const [json] = await run('workspaces', 'update', 'acme', '--set', 'monthlyEventQuota=1000000', '--set', 'quotaMode=flag', '--json');
    assert.deepEqual(JSON.parse(json!).settings, { storageQuotaBytes: null, monthlyEventQuota: 1000000, quotaMode: 'flag' });
    const table = await run('workspaces', 'list');
    assert.match(table.find((l) => l.includes('acme'))!, /acme\s+1000000\s+flag/);
    assert.match(table.find((l) => l.includes('default'))!, /default\s+unlimited\s+refuse/);

    const [source] = await run('sources', 'update', 'default', '--set', 'enrich.bots=fail', '--set', 'enrich.pseudonymise=["userId"]', '--json');
    assert.equal(JSON.parse(source!).settings.enrich.bots, 'fail');
    assert.deepEqual(JSON.parse(source!).settings.enrich.pseudonymise, ['userId']);
    const [cleared] = await run('workspaces', 'update', 'acme', '--set', 'monthlyEventQuota=null');
    assert.match(cleared!, /^updated workspace acme: .*"monthlyEventQuota":null/);
  });

  it('refuses bad settings naming --set and the very value', async () => {
    for (const [cmd, set] of [
      ['workspaces', 'monthlyEventQuota=-1'],
      ['workspaces', 'quotaMode=sometimes'],
      ['workspaces', 'monthlyEventQuota'],
      ['workspaces', 'nope=1'],
      ['sources', 'enrich.bots=sometimes'],
      ['sources', 'warehouseRetentionDays=0'],
    ] as const) {
      // A good change first: the refusal still names the bad one.
      const good = cmd === 'workspaces' ? 'quotaMode=flag' : 'enrich.ip=drop';
      const message = await refused(cmd, 'update', 'default', '--set', good, '--set', set);
      assert.ok(message.includes('--set') && message.includes(JSON.stringify(set)), `${cmd} ${set}: ${message}`);
    }
    assert.match(await refused('workspaces', 'update', 'default'), /--set/);
    assert.match(await refused('workspaces', 'update', 'nowhere', '--set', 'monthlyEventQuota=1'), /nowhere/);
    assert.match(await refused('sources', 'update', 'nothing', '--set', 'enrich.bots=fail'), /nothing/);
    assert.match(await refused('workspaces', 'create', 'no spaces'), /<name>/);
  });

  it('weir usage refuses bad options, naming them', async () => {
    for (const [args, option] of [
      [['--by', 'week'], '--by'],
      [['--since', 'yesterday'], '--since'],
      [['--until', '2026-13-45'], '--until'],
      [['--source', 'nope'], '--source'],
      [['--workspace', 'nope'], '--workspace'],
      [['--format', 'xml'], '--format'],
    ] as const) {
      assert.ok((await refused('usage', ...args)).includes(option), args.join(' '));
    }
    assert.deepEqual(await run('usage', '--since', '2999-01-01'), ['no usage in this range']);
  });
});
