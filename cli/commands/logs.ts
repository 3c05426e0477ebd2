/**
 * `tessera logs NAME -p PROJECT [-f] [--pod P] [--tail N]`: a pod's output, streamed from its node's
 * agent through the allocator (`GET /workloads/{id}/logs`). With -f it keeps printing until the pod
 * ends or Ctrl-C.
 */
import { type Command, Option } from 'commander';
import { addClientOptions } from '../client/connect.ts';
import { connectToWorkload, projectOption, workloadArgument } from '../client/resolve.ts';
import { streamText } from '../client/stream.ts';
import { usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera logs resnet -p vision
  $ tessera logs resnet -p vision -f --tail 20
  $ tessera logs ddp -p vision --pod ddp-1 --stream stderr

Without --pod, the logs of the workload's first pod on a node are shown.
`;

interface LogsFlags {
  project?: string;
  follow?: boolean;
  pod?: string;
  tail?: string;
  stream: 'stdout' | 'stderr' | 'both';
}

/** The API path of a logs request. */
export function logsPath(id: string, flags: Omit<LogsFlags, 'project'>): string {
  const q = new URLSearchParams();
  if (flags.pod !== undefined) q.set('pod', flags.pod);
  if (flags.tail !== undefined) {
    if (!/^\d+$/.test(flags.tail))
      throw usageError('--tail', `--tail takes a number of lines, got ${flags.tail}`);
    q.set('tail', flags.tail);
  }
  if (flags.follow === true) q.set('follow', 'true');
  q.set('stream', flags.stream);
  return `/workloads/${encodeURIComponent(id)}/logs?${q}`;
}

/** Adds `logs`'s flags, help and action to `command`. */
export function configure(command: Command, { io, workloadType }: CliContext): void {
  addClientOptions(
    command
      .description("Print a workload pod's output (stdout and stderr), streamed from its node.")
      .addArgument(workloadArgument())
      .addOption(projectOption())
      .option('-f, --follow', 'keep printing new output until the pod ends (Ctrl-C to stop)')
      .option('--pod <pod>', 'the pod to read (default the first on a node)')
      .option('--tail <lines>', 'only the last N lines')
      .addOption(
        new Option('--stream <stream>', 'which output').choices(['stdout', 'stderr', 'both']).default('both'),
      )
      .addHelpText('after', EXAMPLES),
  ).action(async (ref: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<LogsFlags>();
    const { config, workload } = await connectToWorkload(ref, cmd, workloadType);
    const path = logsPath(workload.id, flags);
    const stop = new AbortController();
    const onInt = (): void => stop.abort();
    process.once('SIGINT', onInt);
    try {
      await streamText(config, path, (t) => io.out(t), {
        signal: stop.signal,
      });
    } finally {
      process.off('SIGINT', onInt);
    }
  });
}
