/**
 * `tessera stop|run|delete NAME -p PROJECT`: one module for the three registry entries, which differ
 * only in the request they send and how they word the outcome; `command.name()` says which one runs.
 */
import type { Command } from 'commander';
import { addClientOptions } from '../client/connect.ts';
import { type OutputFormat, outputOption, printData } from '../client/output.ts';
import { connectToWorkload, projectOption, workloadArgument } from '../client/resolve.ts';
import type { WorkloadView } from '../client/views.ts';
import type { CliContext } from './index.ts';

/** What `DELETE /workloads/{id}` answers: 200 purged, or 202 while its pods still stop. */
interface DeleteAnswer {
  id: string;
  phase: string;
  purged: boolean;
}

const WORKLOAD_ACTIONS = {
  stop: {
    description:
      'Stop a workload: its pods end; its definition and history stay, and `tessera run` queues it again.',
    done: 'stopped',
  },
  run: { description: 'Run a stopped workload again: it goes back to Pending.', done: 'queued again' },
  delete: {
    description: 'Delete a workload: its pods end and its record goes; its events stay.',
    done: 'deleted',
  },
} as const;

type WorkloadAction = keyof typeof WORKLOAD_ACTIONS;

/** The runai CLI v2 names of two actions (`runai training suspend|resume`), under a workload type's verbs. */
const RUNAI_NAMES: Readonly<Record<string, WorkloadAction>> = { suspend: 'stop', resume: 'run' };

function actionOf(name: string): WorkloadAction | undefined {
  if (Object.hasOwn(WORKLOAD_ACTIONS, name)) return name as WorkloadAction;
  return RUNAI_NAMES[name];
}

function examples(verb: string, type: string | undefined): string {
  const cmd = type === undefined ? verb : `${type} ${verb}`;
  return `
Examples:
  $ tessera ${cmd} resnet -p vision
  $ tessera ${cmd} 0b5e3c9a-...           # by id
  $ tessera ${cmd} resnet -p vision -o json
`;
}

/**
 * Adds the flags, help and action of `stop`, `run` or `delete` (from `command.name()`; `suspend` and
 * `resume` are stop and run) to `command`.
 */
export function configure(command: Command, { io, workloadType }: CliContext): void {
  const action = actionOf(command.name());
  if (action === undefined)
    throw new Error(`workload-actions.ts configured for unknown command ${command.name()}`);
  addClientOptions(
    command
      .description(WORKLOAD_ACTIONS[action].description)
      .addArgument(workloadArgument())
      .addOption(projectOption())
      .addOption(outputOption())
      .addHelpText('after', examples(command.name(), workloadType)),
  ).action(async (ref: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ project?: string; output: OutputFormat }>();
    const { client, workload: w } = await connectToWorkload(ref, cmd, workloadType);
    const path = `/workloads/${encodeURIComponent(w.id)}`;
    const label = `workload ${w.name} (project ${w.project})`;
    if (action === 'delete') {
      const answer = await client.request<DeleteAnswer>('DELETE', path);
      printData(io, flags.output, answer, (a) =>
        a.purged
          ? `${label} deleted\n`
          : `${label} deleting: waiting for its pods to stop; it goes once they have\n`,
      );
      return;
    }
    const after = await client.request<WorkloadView>('POST', `${path}/${action}`);
    printData(
      io,
      flags.output,
      after,
      (a) => `${label} ${WORKLOAD_ACTIONS[action].done}: phase ${a.phase}\n`,
    );
  });
}
