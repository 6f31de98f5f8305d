import type { Command } from 'commander';
import { nameProblem } from '../../state/names.js';
import { patchWorkspaceSettings } from '../../state/settings.js';
import type { Workspace } from '../../state/state-store.js';
import { formatTable, invalidOption, jsonLine, printable, withState, type CliContext } from '../context.js';
import { collectSet, settingChanges } from '../settings-option.js';
import { resolveWorkspace } from './sources.js';

function workspaceJson(w: Workspace): Record<string, unknown> {
  return { id: w.id, name: w.name, createdAt: w.createdAt.toISOString(), settings: w.settings };
}

/**
 * `weir workspaces list | create <name> | update <id|name> --set key=value`: workspaces and their
 * settings, such as the monthly event quota.
 *
 * @example
 * ```sh
 * weir workspaces create acme
 * weir workspaces update acme --set monthlyEventQuota=1000000 --set quotaMode=flag
 * ```
 */
export function register(program: Command, ctx: CliContext): void {
  const workspaces = program.command('workspaces').description('manage workspaces and their settings (quotas)');

  workspaces
    .command('list')
    .description('list workspaces with their quotas')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const list = await withState(ctx, (state) => state.listWorkspaces());
      if (opts.json) {
        ctx.out(jsonLine(list.map(workspaceJson)));
        return;
      }
      const rows = list.map((w) => [
        w.id,
        printable(w.name),
        w.settings.monthlyEventQuota === null ? 'unlimited' : String(w.settings.monthlyEventQuota),
        w.settings.quotaMode,
        w.createdAt.toISOString(),
      ]);
      for (const line of formatTable(['id', 'name', 'monthly events', 'over quota', 'created'], rows)) ctx.out(line);
    });

  workspaces
    .command('create <name>')
    .description('create a workspace (name: 1 to 64 letters, digits, _ . or -)')
    .option('--json', 'print the workspace as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const problem = nameProblem(name);
      if (problem !== undefined) throw invalidOption('<name>', name, problem);
      const workspace = await withState(ctx, (state) => state.createWorkspace(name));
      ctx.out(opts.json ? jsonLine(workspaceJson(workspace)) : `created workspace ${workspace.name} (${workspace.id})`);
    });

  workspaces
    .command('update <id|name>')
    .description('change settings of a workspace, one --set key=value each')
    .option('--set <key=value>', 'monthlyEventQuota=<n|null>, quotaMode=refuse|flag or storageQuotaBytes=<n|null> (repeatable)', collectSet, [])
    .option('--json', 'print the workspace with its settings as JSON')
    .action(async (idOrName: string, opts: { set: string[]; json?: boolean }) => {
      const workspace = await withState(ctx, async (state) => {
        const found = await resolveWorkspace(state, idOrName, '<id|name>');
        const changes = settingChanges(opts.set, (change) => patchWorkspaceSettings(found.settings, change));
        return state.updateWorkspaceSettings(found.id, changes);
      });
      ctx.out(opts.json ? jsonLine(workspaceJson(workspace)) : `updated workspace ${printable(workspace.name)}: ${jsonLine(workspace.settings)}`);
    });
}
