/**
 * `tessera secret create registry NAME`, `secret list`, `secret delete registry NAME`: a project's
 * registry logins (allocator/api/secret-routes.ts), named by a workload's `--pull-secret`.
 *
 * The password is read from stdin only (`--password-stdin`), never from a flag: a flag's value is in
 * the shell's history and in every `ps` listing while the command runs. No command prints it back,
 * because no route answers it.
 */
import { Argument, type Command, Option } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ echo "$NGC_API_KEY" | tessera secret create registry ngc -p vision --server nvcr.io --username '$oauthtoken' --password-stdin
  $ tessera secret create registry ngc -p vision --server nvcr.io --username '$oauthtoken' --password-stdin --replace < key.txt
  $ tessera secret list -p vision
  $ tessera secret delete registry ngc -p vision
  $ tessera submit training resnet -p vision -i nvcr.io/nvidia/pytorch:24.05-py3 --pull-secret ngc -- python train.py

A secret belongs to its project: any workload of the project may name it, and the agent that starts
its pod receives the login. Creating, replacing and deleting one needs department-admin (or admin);
a project's viewers see names, servers and users, never passwords. A secret a workload that may
still start pods names cannot be deleted: replace it (--replace) to change its login.
`;

/** A secret as the API lists it. */
interface SecretInfo {
  project: string;
  name: string;
  type: string;
  server: string;
  username: string;
  createdAt: string;
  updatedAt: string;
}

/** What `--password-stdin` read, without the line end `echo` or a file adds; a usage error when empty. */
export function passwordFromStdin(text: string): string {
  const password = text.replace(/\r?\n$/, '');
  if (password === '')
    throw usageError(
      '--password-stdin',
      'stdin held no password; pipe it in, e.g. echo "$TOKEN" | tessera secret create registry NAME ... --password-stdin',
    );
  return password;
}

function secretsPath(project: string): string {
  return `/projects/${encodeURIComponent(project)}/secrets`;
}

/** Adds `secret create`, `secret list` and `secret delete` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description("Create, list and delete a project's registry secrets (logins for pulling images).")
    .addHelpText('after', EXAMPLES);
  const typeArgument = () => new Argument('<type>', 'the kind of secret: registry').choices(['registry']);

  addClientOptions(
    command
      .command('create')
      .description('Create a registry login in a project; the password comes from stdin.')
      .addArgument(typeArgument())
      .argument('<name>', "the secret's name, a DNS label such as 'ngc'")
      .requiredOption('-p, --project <project>', 'the project it belongs to')
      .requiredOption('--server <host>', "the registry's host[:port], e.g. nvcr.io")
      .requiredOption('--username <user>', 'the registry user name')
      .option('--password-stdin', 'read the password or token from stdin (the only way to give it)')
      .option('--replace', 'replace a secret of that name (its login changes from the next pod start on)')
      .addOption(outputOption()),
  ).action(async (_type: string, name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{
      project: string;
      server: string;
      username: string;
      passwordStdin?: boolean;
      replace?: boolean;
      output: OutputFormat;
    }>();
    if (flags.passwordStdin !== true)
      throw usageError(
        '--password-stdin',
        'give the password on stdin with --password-stdin (a password flag would show in shell history and ps)',
      );
    const password = passwordFromStdin(await io.readStdin());
    const client = await connect(cmd.opts<ClientFlags>());
    const login = { server: flags.server, username: flags.username, password };
    const saved =
      flags.replace === true
        ? await client.request<SecretInfo>(
            'PUT',
            `${secretsPath(flags.project)}/registry/${encodeURIComponent(name)}`,
            login,
          )
        : await client.request<SecretInfo>('POST', `${secretsPath(flags.project)}/registry`, {
            name,
            ...login,
          });
    printData(
      io,
      flags.output,
      saved,
      (s) =>
        `registry secret ${s.name} ${flags.replace === true ? 'saved' : 'created'} in project ${s.project} (${s.username} at ${s.server}); use it with --pull-secret ${s.name}\n`,
    );
  });

  addClientOptions(
    command
      .command('list')
      .description(
        "List a project's secrets (or with -A every readable project's): name, type, server, user and age (never a password).",
      )
      .addOption(new Option('-p, --project <project>', 'the project').conflicts('allProjects'))
      .option('-A, --all-projects', 'every project you may read')
      .addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ project?: string; allProjects?: boolean; output: OutputFormat }>();
    if (flags.project === undefined && flags.allProjects !== true)
      throw usageError('-p', 'give the project with -p PROJECT, or -A for every project you may read');
    const client = await connect(cmd.opts<ClientFlags>());
    // The project list is filtered to what the caller reads, so -A asks only where it may.
    const projects =
      flags.project === undefined
        ? (await client.request<{ name: string }[]>('GET', '/projects')).map((p) => p.name)
        : [flags.project];
    const secrets: SecretInfo[] = [];
    for (const project of projects)
      secrets.push(...(await client.request<SecretInfo[]>('GET', secretsPath(project))));
    const now = Date.now();
    const where = flags.project === undefined ? 'any project you may read' : `project ${flags.project}`;
    printData(io, flags.output, secrets, (list) =>
      list.length === 0
        ? `no secrets in ${where}\n`
        : formatTable({
            header: ['PROJECT', 'NAME', 'TYPE', 'SERVER', 'USERNAME', 'AGE'],
            rows: list.map((s) => [
              s.project,
              s.name,
              s.type,
              s.server,
              s.username,
              formatAge(s.createdAt, now),
            ]),
          }),
    );
  });

  addClientOptions(
    command
      .command('delete')
      .description('Delete a secret; refused while a workload that may still start pods names it.')
      .addArgument(typeArgument())
      .argument('<name>', "the secret's name")
      .requiredOption('-p, --project <project>', 'the project it belongs to')
      .addOption(outputOption()),
  ).action(async (_type: string, name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ project: string; output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const answer = await client.request<unknown>(
      'DELETE',
      `${secretsPath(flags.project)}/registry/${encodeURIComponent(name)}`,
    );
    printData(
      io,
      flags.output,
      answer,
      () => `registry secret ${name} deleted from project ${flags.project}\n`,
    );
  });
}
