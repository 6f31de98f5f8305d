#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { loadConfig, type WeirConfig } from '../config/load.js';
import { WeirError } from '../errors/catalogue.js';
import { runUp } from '../server/up.js';
import { parseWorkerRoles, WORKER_ROLES } from '../server/roles.js';
import { openState } from '../server/backends.js';
import type { CliContext } from './context.js';
import { register as registerSources } from './commands/sources.js';
import { register as registerFailed } from './commands/failed.js';
import { register as registerTail } from './commands/tail.js';
import { register as registerLog } from './commands/log.js';
import { register as registerQuery } from './commands/query.js';
import { register as registerReplay } from './commands/replay.js';
import { register as registerLake } from './commands/lake.js';
import { register as registerUsage } from './commands/usage.js';
import { register as registerWorkspaces } from './commands/workspaces.js';
import { register as registerPipelines } from './commands/pipelines.js';
import { register as registerUsers } from './commands/users.js';

/** Exit code for bad configuration or options, as the CLI conventions of the project ask. */
const EXIT_USAGE = 2;

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('weir')
  .description('Weir: a self-hosted event data platform')
  .version(pkg.version)
  .option('-c, --config <file>', 'configuration file (default: ./weir.yaml if present)')
  .option('-d, --data-dir <dir>', 'data directory (overrides dataDir)')
  .showHelpAfterError()
  .exitOverride();

let cached: WeirConfig | undefined;
/** Validated once per process, on first use. */
function config(): WeirConfig {
  if (cached === undefined) {
    const opts = program.opts<{ config?: string; dataDir?: string }>();
    cached = loadConfig({ file: opts.config, overrides: opts.dataDir ? { dataDir: opts.dataDir } : {} });
  }
  return cached;
}

const ctx: CliContext = {
  openState: () => openState(config()),
  out: (line) => process.stdout.write(`${line}\n`),
};

program
  .command('up')
  .description('run the all-in-one server (collector workers and consumers)')
  .action(async () => {
    await runUp(config());
  });
program
  .command('collector')
  .description('run collector workers only (ingest); at scale, with log.backend nats and state.backend postgres')
  .action(async () => {
    await runUp(config(), { collectorsOnly: true });
  });
program
  .command('worker')
  .description('run the consumers of the log: warehouse loader, lake writer, real-time, pipelines, failed events, usage')
  .option('--roles <list>', `comma-separated roles out of ${WORKER_ROLES.join(',')}`, WORKER_ROLES.join(','))
  .action(async (opts: { roles: string }) => {
    const roles = parseWorkerRoles(opts.roles);
    const { runSinksWorker } = await import('../server/sinks-worker.js');
    await runSinksWorker(config(), { roles, http: true });
    process.stdout.write(`Weir worker is running (${[...roles].join(', ')}); probes and metrics on port ${config().server.port}\n`);
  });
program
  .command('ui')
  .description('run the web UI and its API (needs a warehouse server; live numbers from realtime.store redis)')
  .action(async () => {
    const { runUiServer } = await import('../server/ui-server.js');
    await runUiServer(config());
  });
registerSources(program, ctx);
registerFailed(program, ctx, config);
registerTail(program, config);
registerLog(program, config);
registerQuery(program, config);
registerReplay(program, config);
registerLake(program, config);
registerUsage(program, ctx);
registerWorkspaces(program, ctx);
registerPipelines(program, config);
registerUsers(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; they have exit code 0.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (err instanceof WeirError) {
    process.stderr.write(`weir: ${err.code}: ${err.message}\n`);
    process.exit(err.code.startsWith('WEIR_CONFIG_') || err.code.startsWith('WEIR_CLI_') || err.code === 'WEIR_QUERY_FAILED' || err.code === 'WEIR_QUERY_READ_ONLY' ? EXIT_USAGE : 1);
  }
  process.stderr.write(`weir: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}
