/**
 * `tessera list`: the workloads the allocator knows, filtered by project, type and phase (the API
 * does the filtering, so the CLI and a script calling the API see the same set).
 */
import { type Command, Option } from 'commander';
import { WORKLOAD_TYPES, type WorkloadType } from '../../shared/workload.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { gpusCell, podsCell, type WorkloadView } from '../client/views.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera list
  $ tessera list -p vision --phase Pending,Running
  $ tessera list --type inference -o json | jq '.[].name'

PODS is pods running / replicas wanted; GPUS is the request per pod (times the replicas).
Phases: Creating, Pending, Initializing, Running, Degraded, Stopped, Deleting, Failed, Completed.
`;

interface RawListFlags {
  project?: string;
  type?: WorkloadType;
  phase?: string;
  output: OutputFormat;
}

/** The listing as a table: NAME PROJECT TYPE PHASE PODS GPUS AGE. */
export function workloadTable(workloads: readonly WorkloadView[], nowMs: number): string {
  if (workloads.length === 0) return 'no workloads\n';
  return formatTable({
    header: ['NAME', 'PROJECT', 'TYPE', 'PHASE', 'PODS', 'GPUS', 'AGE'],
    rows: workloads.map((w) => [
      w.name,
      w.project,
      w.type,
      w.phase,
      podsCell(w),
      gpusCell(w),
      formatAge(w.createdAt, nowMs),
    ]),
  });
}

/** Adds `list`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addClientOptions(
    command
      .description('List workloads: name, project, type, phase, pods running, GPUs and age.')
      .option('-p, --project <project>', 'only this project')
      .addOption(new Option('--type <type>', 'only this workload type').choices(WORKLOAD_TYPES))
      .option('--phase <phases>', 'only these phases, comma-separated, e.g. Pending,Running')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawListFlags>();
    const query = new URLSearchParams();
    if (flags.project !== undefined) query.set('project', flags.project);
    if (flags.type !== undefined) query.set('type', flags.type);
    // The allocator checks the phase names and says which exist, so they pass through as typed.
    if (flags.phase !== undefined) query.set('phase', flags.phase);
    const client = await connect(cmd.opts<ClientFlags>());
    const qs = query.size === 0 ? '' : `?${query}`;
    const workloads = await client.request<WorkloadView[]>('GET', `/workloads${qs}`);
    printData(io, flags.output, workloads, (ws) => workloadTable(ws, Date.now()));
  });
}
