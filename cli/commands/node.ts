/**
 * `tessera node list|describe|cordon|uncordon|drain|label|reset|delete`: the nodes agents
 * registered; an admin cordons one (nothing new lands there), drains it (node-drain.ts), labels it
 * (which moves it between node pools), resets its identity (every credential revoked, its name open
 * to one join token) when its credential was lost or leaked, and forgets it: a drained one, or with
 * --force one that missed its lease for good, whose Unknown pods are then placed elsewhere.
 */
import type { Command } from 'commander';
import { formatMemoryMiB, parseDurationMs } from '../../common/resources.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { NodePodView, NodeView } from '../client/views.ts';
import { usageError } from '../errors.ts';
import { flagValue } from '../flags.ts';
import type { CliContext } from './index.ts';
import { drainAndWait, drainText, notDrained } from './node-drain.ts';

const EXAMPLES = `
Examples:
  $ tessera node list
  $ tessera node describe gpu-07
  $ tessera node cordon gpu-07          # nothing new lands there; what runs stays
  $ tessera node drain gpu-07           # cordon, evict preemptible work, wait until it has left
  $ tessera node drain gpu-07 --force --timeout 10m   # non-preemptible work is evicted too
  $ tessera node uncordon gpu-07
  $ tessera node label gpu-07 zone=a gpu.model-     # set zone, remove an admin label
  $ tessera node reset gpu-07     # its credentials stop working; a join token may register gpu-07 again
  $ tessera node delete gpu-07 --force   # gpu-07 is dead: its Unknown pods are placed elsewhere

A join token registers only a new node name: a node already registered comes back with its own
credential (DATA/node-credential.json on the node). If that is lost or leaked, reset the node.
`;

/** `POST /nodes/:name/reset`'s answer. */
interface NodeReset {
  node: string;
  revokedCredentials: number;
  disconnected: boolean;
}

const nodePath = (name: string) => `/nodes/${encodeURIComponent(name)}`;

const labelText = (labels: Readonly<Record<string, string>>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

/** `KEY=VALUE` sets, `KEY-` removes (kubectl's spelling): the PATCH body's `labels`. */
export function labelChanges(args: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(0, eq)] = a.slice(eq + 1);
    else if (a.endsWith('-') && a.length > 1) out[a.slice(0, -1)] = null;
    else
      throw usageError(
        'LABEL',
        `label '${a}' must be KEY=VALUE to set or KEY- to remove, e.g. zone=a or zone-`,
      );
  }
  return out;
}

/** Nodes as a table: NAME NODE POOL GPUS STATE LAST SEEN. */
export function nodeTable(nodes: readonly NodeView[], nowMs: number): string {
  if (nodes.length === 0) return 'no nodes\n';
  return formatTable({
    header: ['NAME', 'NODE POOL', 'GPUS', 'STATE', 'LAST SEEN'],
    rows: nodes.map((n) => [
      n.name,
      n.nodePool,
      String(n.gpus.length),
      state(n),
      formatAge(n.lastSeenAt, nowMs),
    ]),
  });
}

/** `describe`'s text form: the node, its GPUs, then its pods. */
export function describeNode(n: NodeView, pods: readonly NodePodView[], nowMs: number): string {
  const agentOwn = Object.keys(n.labels).filter((k) => !(k in n.adminLabels));
  const lines = [
    `Name:          ${n.name}`,
    `Node pool:     ${n.nodePool}`,
    `State:         ${state(n)}`,
    `Last seen:     ${n.lastSeenAt} (${formatAge(n.lastSeenAt, nowMs)} ago)`,
    `Labels:        ${labelText(Object.fromEntries(agentOwn.map((k) => [k, n.labels[k] ?? ''])))}`,
    `Admin labels:  ${labelText(n.adminLabels)}`,
    `CPU:           ${n.cpuMillis / 1000} cores`,
    `Memory:        ${formatMemoryMiB(n.memoryMiB)}`,
    `Address:       ${n.network?.address ?? '-'}`,
    '',
  ];
  const gpus =
    n.gpus.length === 0
      ? 'none\n'
      : formatTable({
          header: ['INDEX', 'UUID', 'MODEL', 'MEMORY', 'HEALTHY'],
          rows: n.gpus.map((g) => [
            String(g.index),
            g.uuid,
            g.model,
            formatMemoryMiB(g.memoryMiB),
            g.healthy ? 'yes' : 'no',
          ]),
        });
  const podRows =
    pods.length === 0
      ? 'none\n'
      : formatTable({
          header: ['WORKLOAD', 'PROJECT', 'POD', 'PHASE', 'GPUS', 'PREEMPTIBLE'],
          rows: pods.map((p) => [
            p.workload,
            p.project,
            p.name,
            p.phase,
            p.gpus.map((g) => `${g.uuid}:${g.fraction}`).join(',') || '-',
            p.preemptible ? 'yes' : 'no',
          ]),
        });
  return `${lines.join('\n')}\nGPUs:\n${gpus}\nPods:\n${podRows}`;
}

/** A node's state for the list: lost, cordoned, unschedulable (its agent says so), or ready. */
function state(n: Pick<NodeView, 'lost' | 'cordoned' | 'schedulable'>): string {
  if (n.lost) return 'lost';
  if (n.cordoned) return 'cordoned';
  return n.schedulable ? 'ready' : 'unschedulable';
}

/** Adds `node list`, `node reset` and `node delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('List, describe, cordon, drain, label, reset and delete nodes (admins).')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    command
      .command('list')
      .description('List nodes: GPUs, state, last heard from.')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const nodes = await client.request<NodeView[]>('GET', '/nodes');
    printData(io, flags.output, nodes, (ns) => nodeTable(ns, Date.now()));
  });

  addClientOptions(
    command
      .command('describe <name>')
      .description('Show one node: labels, node pool, GPUs, state and the pods on it.')
      .addOption(outputOption()),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const node = await client.request<NodeView>('GET', nodePath(name));
    const pods = await client.request<NodePodView[]>('GET', `${nodePath(name)}/pods`);
    printData(io, flags.output, { ...node, pods }, (d) => describeNode(d, d.pods, Date.now()));
  });

  for (const [verb, cordoned] of [
    ['cordon', true],
    ['uncordon', false],
  ] as const)
    addClientOptions(
      command
        .command(`${verb} <name>`)
        .description(
          cordoned
            ? 'Mark a node unschedulable: nothing new lands there, what runs stays (admins).'
            : 'Let the scheduler place pods on a node again (admins).',
        )
        .addOption(outputOption()),
    ).action(async (name: string, _flags: unknown, cmd: Command) => {
      const flags = cmd.opts<{ output: OutputFormat }>();
      const client = await connect(cmd.opts<ClientFlags>());
      const node = await client.request<NodeView>('PATCH', nodePath(name), { cordoned });
      printData(io, flags.output, node, (n) => `node ${n.name} ${cordoned ? 'cordoned' : 'uncordoned'}\n`);
    });

  addClientOptions(
    command
      .command('drain <name>')
      .description(
        'Cordon a node and evict its pods by their rules (preemptible work after its minimum runtime; non-preemptible work only with --force), wait until they have left, and say where they went (admins).',
      )
      .option('--force', 'evict non-preemptible work and work inside its minimum runtime too')
      .option('--timeout <duration>', 'how long to wait for the node to empty, e.g. 90s or 10m', '5m')
      .option('--no-wait', 'evict and return at once, without waiting for the pods to leave')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ force?: boolean; timeout: string; wait: boolean; output: OutputFormat }>();
    const timeoutMs = flags.wait ? flagValue(parseDurationMs(flags.timeout, '--timeout')) : 0;
    const client = await connect(cmd.opts<ClientFlags>());
    const result = await drainAndWait(client, name, { force: flags.force === true, timeoutMs });
    printData(io, flags.output, result, drainText);
    if (!result.drained && flags.wait) throw notDrained(result);
  });

  addClientOptions(
    command
      .command('label <name> <labels...>')
      .description(
        "Set admin labels (KEY=VALUE) or remove them (KEY-) on a node; they win over the agent's and may move it to another node pool (admins).",
      )
      .addOption(outputOption()),
  ).action(async (name: string, labels: string[], _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const node = await client.request<NodeView>('PATCH', nodePath(name), { labels: labelChanges(labels) });
    printData(
      io,
      flags.output,
      node,
      (n) => `node ${n.name} labelled: ${labelText(n.labels)} (node pool ${n.nodePool})\n`,
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
