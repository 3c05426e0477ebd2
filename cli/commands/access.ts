/**
 * `tessera access grant USER ROLE SCOPE|list|revoke ID`: access rules, a role on a scope
 * (`cluster`, `department/<d>`, `project/<p>`), as in Run:ai.
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera access grant alice researcher project/vision
  $ tessera access grant bob department-admin department/research
  $ tessera access grant carol viewer cluster
  $ tessera access list
  $ tessera access revoke 7

Roles: admin (everything in its scope), department-admin (a department's projects, their quotas and
workloads), researcher (submits and manages workloads), viewer (reads).
Scopes: cluster, department/<name>, project/<name>; a rule covers everything below its scope.
`;

interface RuleInfo {
  id: number;
  subject: string;
  role: string;
  scope: string;
}

/** Adds `access grant`, `access list` and `access revoke` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Grant, list and revoke access rules: a role for a user on a scope.')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    command
      .command('grant <user> <role> <scope>')
      .description('Give USER the ROLE on SCOPE (admins).')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (subject: string, role: string, scope: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const rule = await client.request<RuleInfo>('POST', '/access-rules', { subject, role, scope });
    printData(io, flags.output, rule, (r) => `rule ${r.id}: ${r.subject} is ${r.role} on ${r.scope}\n`);
  });

  addClientOptions(
    command
      .command('list')
      .description('List access rules (yours; an admin sees all).')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const rules = await client.request<RuleInfo[]>('GET', '/access-rules');
    printData(io, flags.output, rules, (rs) =>
      formatTable({
        header: ['ID', 'USER', 'ROLE', 'SCOPE'],
        rows: rs.map((r) => [String(r.id), r.subject, r.role, r.scope]),
      }),
    );
  });

  addClientOptions(
    command.command('revoke <id>').description('Remove access rule ID (see access list).'),
  ).action(async (id: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    const r = await client.request<RuleInfo>('DELETE', `/access-rules/${encodeURIComponent(id)}`);
    io.out(`rule ${r.id} revoked: ${r.subject} is no longer ${r.role} on ${r.scope}\n`);
  });
}
