import type { Command } from 'commander';
import { WeirError } from '../../errors/catalogue.js';
import { nameProblem } from '../../state/names.js';
import type { Source, StateStore, Workspace } from '../../state/state-store.js';
import { patchSourceSettings } from '../../state/settings.js';
import { formatTable, invalidOption, jsonLine, printable, withState, type CliContext } from '../context.js';
import { collectSet, settingChanges } from '../settings-option.js';

function sourceJson(s: Source): Record<string, string> {
  return { id: s.id, workspaceId: s.workspaceId, name: s.name, writeKey: s.writeKey, createdAt: s.createdAt.toISOString() };
}

/** The id of a `--source` option's source (by id or name); undefined when the option is absent. */
export async function sourceIdOf(state: StateStore, idOrName: string | undefined): Promise<string | undefined> {
  if (idOrName === undefined) return undefined;
  const source = await state.getSource(idOrName);
  if (source === undefined) throw invalidOption('--source', idOrName, 'no source with this id or name');
  return source.id;
}

/** A workspace by id or name; the default workspace when none is given. */
export async function resolveWorkspace(state: StateStore, idOrName: string | undefined, option = '--workspace'): Promise<Workspace> {
  if (idOrName === undefined) return state.defaultWorkspace();
  const workspace = (await state.listWorkspaces()).find((w) => w.id === idOrName || w.name === idOrName);
  if (workspace === undefined) {
    throw invalidOption(option, idOrName, 'no workspace with this id or name');
  }
  return workspace;
}

/**
 * `weir sources create <name>`, `weir sources list` and `weir sources update`: manage sources,
 * show their write keys and change their settings.
 *
 * @example
 * ```sh
 * weir sources create web --json   # {"id":"src_…","name":"web","writeKey":"…",…}
 * weir sources list
 * weir sources update web --set enrich.bots=fail --set lakeRetentionDays=3650
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

  sources
    .command('update <id|name>')
    .description('change settings of a source (retention, enrich.*), one --set key=value each')
    .option('--set <key=value>', 'a setting, e.g. enrich.bots=fail or warehouseRetentionDays=90 (repeatable)', collectSet, [])
    .option('--json', 'print the source with its settings as JSON')
    .action(async (idOrName: string, opts: { set: string[]; json?: boolean }) => {
      const source = await withState(ctx, async (state) => {
        const found = await state.getSource(idOrName);
        if (found === undefined) throw invalidOption('<id|name>', idOrName, 'no source with this id or name');
        const changes = settingChanges(opts.set, (change) => patchSourceSettings(found.settings, change));
        return state.updateSourceSettings(found.id, changes);
      });
      if (opts.json) {
        ctx.out(jsonLine({ ...sourceJson(source), settings: source.settings }));
        return;
      }
      ctx.out(`updated source ${printable(source.name)}: ${jsonLine(source.settings)}`);
    });
}
