/**
 * `tessera training|inference|distributed|workspace submit|list|describe|suspend|resume|delete|logs`:
 * the runai CLI v2 verbs, one noun per workload type. Each verb is the top-level command of the same
 * job (`submit`, `list`, `describe`, `stop`, `run`, `delete`, `logs`) with the type fixed: submit
 * sets it, and the others find and list only workloads of that type.
 */
import type { Command } from 'commander';
import { WORKLOAD_TYPES, type WorkloadType } from '../../common/workload.ts';
import { configure as configureDescribe } from './describe.ts';
import type { CliContext } from './index.ts';
import { configure as configureList } from './list.ts';
import { configure as configureLogs } from './logs.ts';
import { addSubmitOptions, submitFromCommandLine } from './submit.ts';
import { configure as configureAction } from './workload-actions.ts';

function examples(type: WorkloadType): string {
  return `
Examples (runai CLI v2 users: the same verbs):
  $ tessera ${type} submit my-${type} -p vision -i nvcr.io/nvidia/pytorch:24.05-py3 -g 1 -- python main.py
  $ tessera ${type} list -A
  $ tessera ${type} describe my-${type} -p vision
  $ tessera ${type} logs my-${type} -p vision -f
  $ tessera ${type} suspend my-${type} -p vision     # tessera stop: pods end, definition stays
  $ tessera ${type} resume my-${type} -p vision      # tessera run: queued again
  $ tessera ${type} delete my-${type} -p vision
`;
}

/** Adds the verbs of workload type `type` under `command`. */
export function addWorkloadVerbs(command: Command, ctx: CliContext, type: WorkloadType): void {
  const typed: CliContext = { ...ctx, workloadType: type };
  addSubmitOptions(
    command
      .command('submit')
      .description(
        `Submit a ${type} workload; everything after -- is the command its pods run (tessera submit ${type}).`,
      )
      .argument('[name]', "workload name, a DNS label such as 'resnet-50' (required without -f)")
      .argument('[command...]', 'the command each pod runs (after --)'),
  )
    .addHelpText('after', examples(type))
    .action(async (name: string | undefined, commandArgs: string[], _flags: unknown, cmd: Command) =>
      submitFromCommandLine(ctx.io, cmd, type, name, commandArgs),
    );
  configureList(command.command('list'), typed);
  configureDescribe(command.command('describe'), typed);
  configureLogs(command.command('logs'), typed);
  configureAction(command.command('suspend'), typed);
  configureAction(command.command('resume'), typed);
  configureAction(command.command('delete'), typed);
}

/** Adds the verbs of the workload type named by `command.name()` (training, inference, distributed). */
export function configure(command: Command, ctx: CliContext): void {
  const type = WORKLOAD_TYPES.find((t) => t === command.name());
  if (type === undefined) throw new Error(`workload-verbs.ts configured for unknown type ${command.name()}`);
  command
    .description(`Submit, list, describe, suspend, resume, delete ${type} workloads and read their logs.`)
    .addHelpText('after', examples(type));
  addWorkloadVerbs(command, ctx, type);
}
