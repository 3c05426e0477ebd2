/**
 * `tessera nodepool create|list|describe|update|delete`: node pools, through `/api/v1/nodepools`
 * (allocator/api/org-routes.ts). A pool is a label selector and its placement strategies; pools
 * claim nodes in the order they were created (the first whose selector matches a node's labels
 * takes it, the rest fall to `default`), which `list` shows as ORDER.
 */
import { type Command, Option } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import type { ApiClient } from '../client/http.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { NodeView, PoolView } from '../client/views.ts';
import { usageError } from '../errors.ts';
import { collect } from '../flags.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera nodepool create a100 --selector gpu.model=A100 --placement spread
  $ tessera nodepool create dgx --selector node.type=dgx,zone=a --placement fragmentation-aware
  $ tessera nodepool list
  $ tessera nodepool update a100 --placement binpack --cpu-placement spread
  $ tessera nodepool describe a100          # its selector, strategies and the nodes it claims
  $ tessera nodepool delete a100            # its nodes fall back to default; its quotas go

A node belongs to the first pool (in ORDER, the order pools were created) whose selector matches
all of its labels; nodes no selector matches are in 'default'. Label a node with tessera node label.
Placement: binpack fills nodes up, spread balances them, fragmentation-aware keeps whole GPUs free.
`;

const PLACEMENTS = ['binpack', 'spread', 'fragmentation-aware'] as const;

/** `--selector k=v` values (repeated or comma-separated) as a selector object. */
export function selectorOf(values: readonly string[]): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const pair of values.flatMap((v) => v.split(',')).map((p) => p.trim())) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw usageError(
        '--selector',
        `--selector '${pair}' must be LABEL=VALUE, e.g. --selector gpu.model=A100`,
      );
    selector[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return selector;
}

const selectorText = (s: Readonly<Record<string, string>>): string =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '(all)';

/** Pools as a table, in the order they claim nodes, with how many nodes each holds. */
export function poolTable(pools: readonly PoolView[], nodes: readonly NodeView[], nowMs: number): string {
  if (pools.length === 0) return 'no node pools (every node is in default)\n';
  const held = (pool: string) => String(nodes.filter((n) => n.nodePool === pool).length);
  return formatTable({
    header: ['ORDER', 'NAME', 'SELECTOR', 'GPU PLACEMENT', 'CPU PLACEMENT', 'NODES', 'AGE'],
    rows: pools.map((p, i) => [
      String(i + 1),
      p.name,
      selectorText(p.selector),
      p.placement.gpu,
      p.placement.cpu,
      held(p.name),
      formatAge(p.createdAt, nowMs),
    ]),
  });
}

/** One pool in full, with where it stands in the claim order and the nodes it claims. */
export interface PoolDetail extends PoolView {
  order: number;
  nodes: string[];
}

/** The pool named `name` with its order and nodes, from the full pool and node lists. */
export function poolDetail(pools: readonly PoolView[], nodes: readonly NodeView[], name: string): PoolDetail {
  const i = pools.findIndex((p) => p.name === name);
  const pool = pools[i];
  if (pool === undefined) throw usageError('NAME', `no node pool named ${name}; see tessera nodepool list`);
  return { ...pool, order: i + 1, nodes: nodes.filter((n) => n.nodePool === name).map((n) => n.name) };
}

/** `describe`'s text form. */
export function poolText(p: PoolDetail, total: number): string {
  return [
    `Name:           ${p.name}`,
    `Order:          ${p.order} of ${total}`,
    `Selector:       ${selectorText(p.selector)}`,
    `GPU placement:  ${p.placement.gpu}`,
    `CPU placement:  ${p.placement.cpu}`,
    `Created:        ${p.createdAt}`,
    `Nodes:          ${p.nodes.length === 0 ? 'none' : p.nodes.join(', ')}`,
    '',
  ].join('\n');
}

/** Reads the pools and nodes and prints pool `name` in full. */
async function printPool(
  io: CliContext['io'],
  client: ApiClient,
  name: string,
  format: OutputFormat,
): Promise<void> {
  const pools = await client.request<PoolView[]>('GET', '/nodepools');
  const nodes = await client.request<NodeView[]>('GET', '/nodes');
  printData(io, format, poolDetail(pools, nodes, name), (p) => poolText(p, pools.length));
}

interface RawPoolFlags {
  selector?: string[];
  placement?: (typeof PLACEMENTS)[number];
  cpuPlacement?: (typeof PLACEMENTS)[number];
  output: OutputFormat;
}

/** The `placement` field from the flags, or undefined when neither is given. */
function placementOf(f: RawPoolFlags, old?: PoolView): { gpu: string; cpu?: string } | undefined {
  if (f.placement === undefined && f.cpuPlacement === undefined) return undefined;
  const gpu = f.placement ?? old?.placement.gpu;
  if (gpu === undefined) throw usageError('--placement', '--cpu-placement needs --placement too');
  return f.cpuPlacement === undefined ? { gpu } : { gpu, cpu: f.cpuPlacement };
}

function addPlacementOptions(c: Command): Command {
  return c
    .addOption(
      new Option('--placement <strategy>', 'how GPU pods are placed (default binpack)').choices(PLACEMENTS),
    )
    .addOption(
      new Option(
        '--cpu-placement <strategy>',
        'how CPU-only pods are placed (default: as --placement)',
      ).choices(PLACEMENTS),
    );
}

const path = (name: string) => `/nodepools/${encodeURIComponent(name)}`;

/** Adds `nodepool create|list|describe|update|delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Create, list, describe, update and delete node pools (admins).')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    addPlacementOptions(
      command
        .command('create <name>')
        .description('Create a node pool: the nodes whose labels match its selector.')
        .option('--selector <LABEL=VALUE>', 'a label its nodes carry (repeat or comma-separate)', collect),
    )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawPoolFlags>();
    if (flags.selector === undefined)
      throw usageError('--selector', 'give the labels its nodes carry, e.g. --selector gpu.model=A100');
    const body: Record<string, unknown> = { name, selector: selectorOf(flags.selector) };
    const placement = placementOf(flags);
    if (placement !== undefined) body.placement = placement;
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request<PoolView>('POST', '/nodepools', body);
    await printPool(io, client, name, flags.output);
  });

  addClientOptions(
    command
      .command('list')
      .description('List node pools in the order they claim nodes.')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const pools = await client.request<PoolView[]>('GET', '/nodepools');
    const nodes = flags.output === 'table' ? await client.request<NodeView[]>('GET', '/nodes') : [];
    printData(io, flags.output, pools, (ps) => poolTable(ps, nodes, Date.now()));
  });

  addClientOptions(
    command
      .command('describe <name>')
      .description('Show one node pool: selector, strategies and the nodes it claims.')
      .addOption(outputOption()),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    // GET the pool itself first: an unknown name is then the API's 404, as for every other command.
    await client.request<PoolView>('GET', path(name));
    await printPool(io, client, name, flags.output);
  });

  addClientOptions(
    addPlacementOptions(
      command
        .command('update <name>')
        .description("Change a node pool's selector (replaced whole) or placement strategies.")
        .option('--selector <LABEL=VALUE>', 'the new selector (repeat or comma-separate)', collect),
    )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawPoolFlags>();
    const client = await connect(cmd.opts<ClientFlags>());
    const old = await client.request<PoolView>('GET', path(name));
    const body: Record<string, unknown> = {};
    if (flags.selector !== undefined) body.selector = selectorOf(flags.selector);
    const placement = placementOf(flags, old);
    if (placement !== undefined) body.placement = placement;
    if (Object.keys(body).length === 0)
      throw usageError('--selector', 'nothing to update: give --selector, --placement or --cpu-placement');
    await client.request<PoolView>('PATCH', path(name), body);
    await printPool(io, client, name, flags.output);
  });

  addClientOptions(
    command
      .command('delete <name>')
      .description('Delete a node pool: its nodes fall back to default and its quotas go.'),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request('DELETE', path(name));
    io.out(`node pool ${name} deleted; its nodes are in the next pool that matches them, or default\n`);
  });
}
