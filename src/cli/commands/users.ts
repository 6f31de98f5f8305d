import { Option, type Command } from 'commander';
import { text } from 'node:stream/consumers';
import { generatePassword, hashPassword, MIN_PASSWORD_LENGTH } from '../../auth/passwords.js';
import { ROLES, type Role, type StateStore, type User, type UserWithPassword } from '../../state/state-store.js';
import { formatTable, invalidOption, jsonLine, printable, withState, type CliContext } from '../context.js';
import { resolveWorkspace } from './sources.js';

// Deliberately loose (RFC 5322 allows far more than any strict pattern admits): one @, no spaces.
const EMAIL = /^[^\s@]+@[^\s@]+$/;

function checkEmail(email: string): void {
  if (!EMAIL.test(email) || email.length > 254) throw invalidOption('<email>', email, 'an email address such as ann@example.com');
}

async function userOf(state: StateStore, email: string): Promise<UserWithPassword> {
  const user = await state.userByEmail(email);
  if (user === undefined) throw invalidOption('<email>', email, 'no user with this email');
  return user;
}

function roleOption(description: string): Option {
  return new Option('--role <role>', description).choices(ROLES);
}

/** `default:admin, acme:viewer`. */
async function membershipText(state: StateStore, user: User): Promise<string> {
  const names = new Map((await state.listWorkspaces()).map((w) => [w.id, w.name]));
  return user.memberships.map((m) => `${printable(names.get(m.workspaceId) ?? m.workspaceId)}:${m.role}`).join(', ');
}

/**
 * `weir users create | list | grant | delete`: the people who sign in to the web UI, and their
 * role in each workspace. The first user is created this way.
 *
 * @example
 * ```sh
 * weir users create ann@example.com --role admin          # prints a generated password once
 * printf '%s' "$PW" | weir users create bob@example.com --workspace acme --role viewer --password-stdin
 * weir users grant bob@example.com --workspace default --role editor
 * ```
 */
export function register(program: Command, ctx: CliContext): void {
  const users = program.command('users').description('manage web UI users and their roles per workspace');
  const readStdin = ctx.readStdin ?? (() => text(process.stdin));

  users
    .command('create <email>')
    .description('create a user with a role in one workspace; prints a generated password unless --password-stdin')
    .option('--workspace <id|name>', 'the workspace of the role (default: the default workspace)')
    .addOption(roleOption('their role in the workspace').default('viewer'))
    .option('--password-stdin', `read the password from standard input (at least ${MIN_PASSWORD_LENGTH} characters)`)
    .action(async (email: string, opts: { workspace?: string; role: Role; passwordStdin?: boolean }) => {
      checkEmail(email);
      let password: string;
      if (opts.passwordStdin) {
        // One trailing line break is what `echo` and here-strings add; it is not part of the password.
        password = (await readStdin()).replace(/\r?\n$/, '');
        if (password.length < MIN_PASSWORD_LENGTH) {
          throw invalidOption('--password-stdin', `(${password.length} characters)`, `the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
        }
      } else {
        password = generatePassword();
      }
      const { user, workspace } = await withState(ctx, async (state) => {
        const workspace = await resolveWorkspace(state, opts.workspace);
        const user = await state.createUser({ email, passwordHash: await hashPassword(password) });
        await state.setMembership(user.id, workspace.id, opts.role);
        return { user, workspace };
      });
      ctx.out(`created user ${printable(user.email)} (${user.id}), ${opts.role} in workspace ${printable(workspace.name)}`);
      if (!opts.passwordStdin) ctx.out(`  password: ${password}   (shown only now)`);
    });

  users
    .command('list')
    .description('list users with their roles')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withState(ctx, async (state) => {
        const list = await state.listUsers();
        return Promise.all(list.map(async (u) => ({ user: u, roles: await membershipText(state, u) })));
      });
      if (opts.json) {
        ctx.out(jsonLine(rows.map(({ user }) => ({ id: user.id, email: user.email, createdAt: user.createdAt.toISOString(), memberships: user.memberships }))));
        return;
      }
      if (rows.length === 0) {
        ctx.out('no users (create one with: weir users create <email> --role admin)');
        return;
      }
      const table = rows.map(({ user, roles }) => [user.id, printable(user.email), roles, user.createdAt.toISOString()]);
      for (const line of formatTable(['id', 'email', 'roles', 'created'], table)) ctx.out(line);
    });

  users
    .command('grant <email>')
    .description("set a user's role in a workspace")
    .requiredOption('--workspace <id|name>', 'the workspace')
    .addOption(roleOption('the role').makeOptionMandatory())
    .action(async (email: string, opts: { workspace: string; role: Role }) => {
      const workspace = await withState(ctx, async (state) => {
        const user = await userOf(state, email);
        const workspace = await resolveWorkspace(state, opts.workspace);
        await state.setMembership(user.id, workspace.id, opts.role);
        return workspace;
      });
      ctx.out(`${printable(email.toLowerCase())} is now ${opts.role} in workspace ${printable(workspace.name)}`);
    });

  users
    .command('delete <email>')
    .description('delete a user, their roles and their sessions')
    .action(async (email: string) => {
      await withState(ctx, async (state) => state.deleteUser((await userOf(state, email)).id));
      ctx.out(`deleted user ${printable(email.toLowerCase())}`);
    });
}
