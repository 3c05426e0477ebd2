/**
 * `tessera department create|list|describe|update|delete`: departments and their GPU quota per node
 * pool, through `/api/v1/departments` (allocator/api/org-routes.ts). A department's quota bounds what
 * its projects may hold together; setting it is the cluster admin's.
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { DepartmentView, ProjectView } from '../client/views.ts';
import type { CliContext } from './index.ts';
import {
  addQuotaOptions,
  addQuotaUpdate,
  hasQuotaFlags,
  queueTable,
  quotaOf,
  type RawQuotaFlags,
} from './quota-flags.ts';

const EXAMPLES = `
Examples:
  $ tessera department create research --gpu 16
  $ tessera department create research --node-pool a100 --gpu 8 --limit 12
  $ tessera department update research --node-pool a100 --gpu 10   # the quota in a100; others stay
  $ tessera department update research --node-pool a100 --remove-quota
  $ tessera department describe research
  $ tessera department delete research                             # refused while it has projects

--gpu is the department's deserved quota in --node-pool, --over-quota-weight its share of idle GPUs
beyond that, --limit the most GPUs its projects may hold together (default: no limit).
`;

const path = (name: string) => `/departments/${encodeURIComponent(name)}`;

/** The department and the names of its projects, as `describe` prints it. */
export function describeDepartment(d: DepartmentView, mine: readonly string[], nowMs: number): string {
  return `${queueTable([d], nowMs, 'no department')}\nProjects: ${mine.length === 0 ? 'none' : mine.join(', ')}\n`;
}

/** Adds `department create|list|describe|update|delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Create, list, describe, update and delete departments and their GPU quotas (admins).')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    addQuotaOptions(
      command
        .command('create <name>')
        .description('Create a department, with a GPU quota in one node pool when a quota flag is given.'),
    )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawQuotaFlags & { output: OutputFormat }>();
    const body = hasQuotaFlags(flags) ? { name, quotas: [quotaOf(flags)] } : { name };
    const client = await connect(cmd.opts<ClientFlags>());
    const created = await client.request<DepartmentView>('POST', '/departments', body);
    printData(io, flags.output, created, (d) => queueTable([d], Date.now(), 'no departments'));
  });

  addClientOptions(
    command
      .command('list')
      .description('List departments with their quota per node pool.')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const departments = await client.request<DepartmentView[]>('GET', '/departments');
    printData(io, flags.output, departments, (ds) => queueTable(ds, Date.now(), 'no departments'));
  });

  addClientOptions(
    command
      .command('describe <name>')
      .description('Show one department: its quota per node pool and its projects.')
      .addOption(outputOption()),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const department = await client.request<DepartmentView>('GET', path(name));
    const projects = await client.request<ProjectView[]>('GET', '/projects');
    const mine = projects.filter((p) => p.department === name).map((p) => p.name);
    printData(io, flags.output, { ...department, projects: mine }, () =>
      describeDepartment(department, mine, Date.now()),
    );
  });

  addQuotaUpdate<DepartmentView>(
    command,
    io,
    'department',
    (d) => queueTable([d], Date.now(), 'no department'),
    EXAMPLES,
  );

  addClientOptions(
    command
      .command('delete <name>')
      .description(
        'Delete a department that has no projects; its quotas, access rules and policies go with it.',
      ),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request('DELETE', path(name));
    io.out(`department ${name} deleted\n`);
  });
}
