/**
 * `tessera token create --node`: mints a join token a new node's agent presents once to join; it
 * then holds a credential of its own. `tessera token list` shows which tokens exist (never secrets).
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera token create --node
  $ TOKEN=$(tessera token create --node) && ssh gpu-07 tessera agent --allocator URL --token "$TOKEN"
  $ tessera token list

The token is printed once, alone on stdout; the allocator keeps only its hash.
On the new node: tessera agent --allocator URL --token TOKEN
`;

/** `POST /tokens`'s answer. */
interface CreatedToken {
  token: string;
  kind: string;
}

/** A row of `GET /tokens`. */
interface TokenInfo {
  id: string;
  kind: string;
  subject: string | null;
}

/** Adds `token create` and `token list` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Create and list tokens: join tokens let new nodes join.')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    command
      .command('create')
      .description('Create a join token for a new node (shown once).')
      .option('--node', 'a join token, for a node agent to join with')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ node?: boolean; output: OutputFormat }>();
    // Say what the token is for, so `token create --user` (issue 5) can join without changing meaning.
    if (flags.node !== true)
      throw usageError('--node', 'say what the token is for: --node (a join token for a new node)');
    const client = await connect(cmd.opts<ClientFlags>());
    const created = await client.request<CreatedToken>('POST', '/tokens', { kind: 'join' });
    printData(io, flags.output, created, (t) => `${t.token}\n`);
    // The hint goes to stderr so `TOKEN=$(tessera token create --node)` captures the token alone.
    if (flags.output === 'table')
      io.err(`On the new node: tessera agent --allocator ${client.url} --token ${created.token}\n`);
  });

  addClientOptions(
    command
      .command('list')
      .description('List tokens: id, kind and whom they belong to (never the secret).')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const tokens = await client.request<TokenInfo[]>('GET', '/tokens');
    printData(io, flags.output, tokens, (ts) =>
      formatTable({
        header: ['ID', 'KIND', 'SUBJECT'],
        rows: ts.map((t) => [t.id, t.kind, t.subject ?? '-']),
      }),
    );
  });
}
