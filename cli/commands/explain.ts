/**
 * `tessera explain NAME -p PROJECT`: why a workload is still pending, in the scheduler's words from
 * its newest cycle (`GET /workloads/{id}/explain`); for a workload that is not pending, its phase.
 */
import type { Command } from 'commander';
import { addClientOptions } from '../client/connect.ts';
import { type OutputFormat, outputOption, printData } from '../client/output.ts';
import { connectToWorkload, projectOption, workloadArgument } from '../client/resolve.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera explain resnet -p vision
  $ tessera explain resnet -p vision -o json | jq -r '.reasons[]'
`;

/** What `GET /workloads/{id}/explain` answers. */
export interface ExplainView {
  id: string;
  name: string;
  project: string;
  phase: string;
  pending: boolean;
  reasons: string[];
  cycleAt: string | null;
}

/** The human form: one line for the state, one per reason. */
export function explainText(e: ExplainView): string {
  const head = e.pending
    ? `${e.name} (project ${e.project}) is Pending:\n`
    : `${e.name} (project ${e.project}) is ${e.phase}, not pending:\n`;
  const when = e.cycleAt === null ? '' : `as of the scheduling cycle at ${e.cycleAt}\n`;
  return `${head}${e.reasons.map((r) => `  - ${r}\n`).join('')}${e.pending ? when : ''}`;
}

/** Adds `explain`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addClientOptions(
    command
      .description("Say why a workload is pending, from the scheduler's newest cycle.")
      .addArgument(workloadArgument())
      .addOption(projectOption())
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (ref: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ project?: string; output: OutputFormat }>();
    const { client, workload } = await connectToWorkload(ref, cmd);
    const e = await client.request<ExplainView>(
      'GET',
      `/workloads/${encodeURIComponent(workload.id)}/explain`,
    );
    printData(io, flags.output, e, explainText);
  });
}
