import type { Command } from 'commander';
import { WeirError } from '../../errors/catalogue.js';
import { nameProblem } from '../../state/names.js';
import type { Source, StateStore, Workspace } from '../../state/state-store.js';
import { formatTable, jsonLine, printable, withState, type CliContext } from '../context.js';

function sourceJson(s: Source): Record<string, string> {
  return { id: s.id, workspaceId: s.workspaceId, name: s.name, writeKey: s.writeKey, createdAt: s.createdAt.toISOString() };
}

async function resolveWorkspace(state: StateStore, idOrName: string | undefined): Promise<Workspace> {
  if (idOrName === undefined) return state.defaultWorkspace();
  const workspace = (await state.listWorkspaces()).find((w) => w.id === idOrName || w.name === idOrName);
  if (workspace === undefined) {
    throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--workspace', value: JSON.stringify(idOrName), detail: 'no workspace with this id or name' });
  }
  return workspace;
}

/**
 * `weir sources create <name>` and `weir sources list`: manage sources and show their write keys.
 *
 * @example
 * ```sh
 * weir sources create web --json   # {"id":"src_…","name":"web","writeKey":"…",…}
 * weir sources list
 * ```
 */
export function register(program: Command, ctx: CliContext): void {
  const sources = program.command('sources').description('manage sources and their write keys');

  sources
    .command('create <name>')
    .description(`create a source (name: 1 to 64 letters, digits, _ . or -) and print its write key`)
    .option('--workspace <id>', 'workspace id or name (default: the default workspace)')
    .option('--json', 'print the source as JSON')
    .action(async (name: string, opts: { workspace?: string; json?: boolean }) => {
      const problem = nameProblem(name);
      if (problem !== undefined) {
        throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '<name>', value: JSON.stringify(name), detail: problem });
      }
      const source = await withState(ctx, async (state) => {
        const workspace = await resolveWorkspace(state, opts.workspace);
        return state.createSource({ workspaceId: workspace.id, name });
      });
      if (opts.json) {
        ctx.out(jsonLine(sourceJson(source)));
        return;
      }
      ctx.out(`created source ${source.name}`);
      ctx.out(`  id         ${source.id}`);
      ctx.out(`  write key  ${source.writeKey}`);
    });

  sources
    .command('list')
    .description('list sources with their write keys')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const list = await withState(ctx, (state) => state.listSources());
      if (opts.json) {
        ctx.out(jsonLine(list.map(sourceJson)));
        return;
      }
      if (list.length === 0) {
        ctx.out('no sources');
        return;
      }
      const rows = list.map((s) => [s.id, printable(s.name), s.writeKey, s.createdAt.toISOString()]);
      for (const line of formatTable(['id', 'name', 'write key', 'created'], rows)) ctx.out(line);
    });
}
