/**
 * `tessera node list|reset|delete`: the nodes agents registered, an admin's way to reset one's
 * identity (every credential revoked, its name open to one join token) when its credential was lost
 * or leaked, and to forget a node: a drained one, or with --force one that missed its lease for good,
 * whose Unknown pods are then placed elsewhere.
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera node list
  $ tessera node reset gpu-07     # its credentials stop working; a join token may register gpu-07 again
  $ tessera node delete gpu-07 --force   # gpu-07 is dead: its Unknown pods are placed elsewhere

A join token registers only a new node name: a node already registered comes back with its own
credential (DATA/node-credential.json on the node). If that is lost or leaked, reset the node.
`;

/** A row of `GET /nodes`. */
interface NodeInfo {
  name: string;
  gpus: unknown[];
  cordoned: boolean;
  lost: boolean;
  schedulable: boolean;
  lastSeenAt: string;
}

/** `POST /nodes/:name/reset`'s answer. */
interface NodeReset {
  node: string;
  revokedCredentials: number;
  disconnected: boolean;
}

/** A node's state for the list: lost, cordoned, unschedulable (its agent says so), or ready. */
function state(n: NodeInfo): string {
  if (n.lost) return 'lost';
  if (n.cordoned) return 'cordoned';
  return n.schedulable ? 'ready' : 'unschedulable';
}

/** Adds `node list`, `node reset` and `node delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('List nodes; reset the identity of one or delete one (admins).')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    command
      .command('list')
      .description('List nodes: GPUs, state, last heard from.')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const nodes = await client.request<NodeInfo[]>('GET', '/nodes');
    const now = Date.now();
    printData(io, flags.output, nodes, (ns) =>
      formatTable({
        header: ['NAME', 'GPUS', 'STATE', 'LAST SEEN'],
        rows: ns.map((n) => [n.name, String(n.gpus.length), state(n), formatAge(n.lastSeenAt, now)]),
      }),
    );
  });

  addClientOptions(
    command
      .command('reset <name>')
      .description(
        'Revoke every credential of a node and close its session, so a join token may register its name again (admins).',
      )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const r = await client.request<NodeReset>('POST', `/nodes/${encodeURIComponent(name)}/reset`);
    printData(io, flags.output, r, (x) => {
      const creds = `${x.revokedCredentials} credential${x.revokedCredentials === 1 ? '' : 's'} revoked`;
      const session = x.disconnected ? ', its session closed' : '';
      return `node ${x.node} reset: ${creds}${session}. Its agent registers it again with a join token (tessera agent --token JOIN_TOKEN --node ${x.node}); pods placed on it stay.\n`;
    });
  });

  addClientOptions(
    command
      .command('delete <name>')
      .description(
        'Forget a node that holds no pods; with --force, declare a node that missed its lease dead: its pods, Unknown until now, are placed elsewhere (admins).',
      )
      .option(
        '--force',
        'the node is gone for good: replace its pods. Only for a node that missed its lease; should it come back, it stops what it still runs',
      )
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ force?: boolean }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const query = flags.force === true ? '?force=true' : '';
    await client.request('DELETE', `/nodes/${encodeURIComponent(name)}${query}`);
    io.out(
      flags.force === true
        ? `node ${name} deleted; its pods are placed elsewhere.\n`
        : `node ${name} deleted.\n`,
    );
  });
}
