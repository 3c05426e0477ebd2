/**
 * `tessera project create|list|describe|update|delete`: projects and their GPU quotas per node pool,
 * through `/api/v1/projects` (allocator/api/org-routes.ts). Departments are `tessera department`.
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import type { ApiClient } from '../client/http.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { ProjectView, ShareView } from '../client/views.ts';
import type { CliContext } from './index.ts';
import {
  addQuotaOptions,
  addQuotaUpdate,
  hasQuotaFlags,
  type QuotaBody,
  quotaOf,
  type RawQuotaFlags,
} from './quota-flags.ts';

const DEFAULT_DEPARTMENT = 'default';

const EXAMPLES = `
Examples:
  $ tessera project create vision --gpu 4
  $ tessera project create nlp --department research --gpu 8 --over-quota-weight 2 --limit 12
  $ tessera project list -o yaml
  $ tessera project describe nlp
  $ tessera project update nlp --node-pool a100 --gpu 4     # sets the quota in a100, keeps the others
  $ tessera project update nlp --node-pool a100 --remove-quota
  $ tessera project delete nlp                               # refused while it has workloads

--gpu is the project's deserved quota in --node-pool (what it always gets), --over-quota-weight its
share of idle GPUs beyond that, --limit the most GPUs it may ever hold (default: no limit).
The 'default' department is created on first use; any other must exist already.
`;

interface RawCreateFlags extends RawQuotaFlags {
  department: string;
  output: OutputFormat;
}

/** The `POST /projects` body from the flags; a quota only when one of its flags is given. */
export function projectBody(
  name: string,
  f: RawCreateFlags,
): { name: string; department: string; quotas?: QuotaBody[] } {
  const body: { name: string; department: string; quotas?: QuotaBody[] } = { name, department: f.department };
  if (hasQuotaFlags(f)) body.quotas = [quotaOf(f)];
  return body;
}

/** Creates the default department when it is the one asked for and missing, so a fresh cluster needs no setup. */
async function ensureDefaultDepartment(client: ApiClient, department: string): Promise<void> {
  if (department !== DEFAULT_DEPARTMENT) return;
  const departments = await client.request<{ name: string }[]>('GET', '/departments');
  if (!departments.some((d) => d.name === department))
    await client.request('POST', '/departments', { name: department });
}

const round2 = (n: number): string => String(Math.round(n * 100) / 100);

/**
 * Projects as a table, one row per project and node pool it has a quota in or holds or is owed
 * GPUs in; with `shares` (`GET /shares`), each row also shows its fair share and allocation.
 */
export function projectTable(
  projects: readonly ProjectView[],
  nowMs: number,
  shares: readonly ShareView[] = [],
): string {
  if (projects.length === 0) return 'no projects\n';
  const gpus = (n: number) => (n === -1 ? 'none' : String(n));
  const withShares = shares.length > 0;
  const rows = projects.flatMap((p) => {
    const age = formatAge(p.createdAt, nowMs);
    const own = shares.filter((s) => s.kind === 'project' && s.queue === p.name);
    const shareIn = (pool: string) => {
      const s = own.find((x) => x.nodePool === pool);
      return withShares
        ? [s === undefined ? '0' : round2(s.fairShare), s === undefined ? '0' : round2(s.allocated)]
        : [];
    };
    const quotaRows = p.quotas.map((q) => [
      p.name,
      p.department ?? '-',
      q.nodePool,
      String(q.gpu),
      String(q.overQuotaWeight),
      gpus(q.limit),
      ...shareIn(q.nodePool),
      age,
    ]);
    // A pool with no quota still shows when the project holds or is owed GPUs there (over quota).
    const extra = own
      .filter((s) => !p.quotas.some((q) => q.nodePool === s.nodePool) && (s.fairShare > 0 || s.allocated > 0))
      .map((s) => [p.name, p.department ?? '-', s.nodePool, '0', '-', 'none', ...shareIn(s.nodePool), age]);
    const all = [...quotaRows, ...extra];
    return all.length > 0 ? all : [[p.name, p.department ?? '-', '-', '0', '-', 'none', ...shareIn(''), age]];
  });
  return formatTable({
    header: [
      'NAME',
      'DEPARTMENT',
      'NODE POOL',
      'GPU QUOTA',
      'OVER-QUOTA WEIGHT',
      'LIMIT',
      ...(withShares ? ['FAIR SHARE', 'ALLOCATED'] : []),
      'AGE',
    ],
    rows,
  });
}

/** Adds `project create|list|describe|update|delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Create, list, describe, update and delete projects and their GPU quotas.')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    addQuotaOptions(command.command('create'))
      .description('Create a project with a GPU quota in one node pool.')
      .argument('<name>', "project name, a DNS label such as 'vision'")
      .option('--department <department>', 'its department', DEFAULT_DEPARTMENT)
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawCreateFlags>();
    const body = projectBody(name, flags);
    const client = await connect(cmd.opts<ClientFlags>());
    await ensureDefaultDepartment(client, body.department);
    const created = await client.request<ProjectView>('POST', '/projects', body);
    printData(io, flags.output, created, (p) => projectTable([p], Date.now()));
  });

  addClientOptions(
    command
      .command('list')
      .description('List projects with their quotas, fair shares and allocated GPUs.')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const projects = await client.request<ProjectView[]>('GET', '/projects');
    // Fair shares are the newest cycle's (allocator/service/shares.ts): the table shows them, while
    // JSON and YAML stay the project records `tessera project create` takes.
    const shares = flags.output === 'table' ? await client.request<ShareView[]>('GET', '/shares') : [];
    printData(io, flags.output, projects, (ps) => projectTable(ps, Date.now(), shares));
  });

  addClientOptions(
    command
      .command('describe <name>')
      .description('Show one project: its department and its quota, fair share and allocation per node pool.')
      .addOption(outputOption()),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const project = await client.request<ProjectView>('GET', `/projects/${encodeURIComponent(name)}`);
    const shares = flags.output === 'table' ? await client.request<ShareView[]>('GET', '/shares') : [];
    printData(io, flags.output, project, (p) => projectTable([p], Date.now(), shares));
  });

  addQuotaUpdate<ProjectView>(command, io, 'project', (p) => projectTable([p], Date.now()), EXAMPLES);

  addClientOptions(
    command
      .command('delete <name>')
      .description(
        'Delete a project that has no workloads; its quotas, access rules and policies go with it.',
      ),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request('DELETE', `/projects/${encodeURIComponent(name)}`);
    io.out(`project ${name} deleted\n`);
  });
}
