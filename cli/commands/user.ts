/** `tessera user create|list|delete`: the users API tokens and access rules belong to (admins only). */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera user create alice
  $ tessera access grant alice researcher project/vision
  $ tessera token create --user alice --expires 30d
  $ tessera user list
  $ tessera user delete alice      # also revokes alice's tokens and access rules
`;

interface UserInfo {
  name: string;
  createdAt: string;
}

/** Adds `user create`, `user list` and `user delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command.description('Create, list and delete users (admins).').addHelpText('after', EXAMPLES);

  addClientOptions(
    command.command('create <name>').description('Create a user.').addOption(outputOption()),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const u = await client.request<UserInfo>('POST', '/users', { name });
    printData(
      io,
      flags.output,
      u,
      (x) => `user ${x.name} created; grant it a role: tessera access grant ${x.name} ROLE SCOPE\n`,
    );
  });

  addClientOptions(command.command('list').description('List users.').addOption(outputOption())).action(
    async (_flags: unknown, cmd: Command) => {
      const flags = cmd.opts<{ output: OutputFormat }>();
      const client = await connect(cmd.opts<ClientFlags>());
      const users = await client.request<UserInfo[]>('GET', '/users');
      const now = Date.now();
      printData(io, flags.output, users, (us) =>
        formatTable({ header: ['NAME', 'AGE'], rows: us.map((u) => [u.name, formatAge(u.createdAt, now)]) }),
      );
    },
  );

  addClientOptions(
    command.command('delete <name>').description('Delete a user, its access rules, and revoke its tokens.'),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request('DELETE', `/users/${encodeURIComponent(name)}`);
    io.out(`user ${name} deleted\n`);
  });
}
