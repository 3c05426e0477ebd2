/**
 * `tessera describe NAME -p PROJECT` (or an id): one workload in full, its spec, phase and reason,
 * pods with their node, address, ports and GPUs, its peers, then its phase history from `GET /workloads/{id}/events`.
 */
import type { Command } from 'commander';
import { formatMemoryMiB } from '../../common/resources.ts';
import { probeText } from '../../common/workload-probe.ts';
import { addClientOptions } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { connectToWorkload, projectOption, workloadArgument } from '../client/resolve.ts';
import { type EventView, gpuRequestText, type PodView, type WorkloadView } from '../client/views.ts';
import { networkRows, podNetworkCells } from './describe-network.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera describe resnet -p vision
  $ tessera describe 0b5e3c9a-...            # by id
  $ tessera describe resnet -p vision -o json | jq '.events[-1]'
`;

/** What describe prints: the workload with its events (as `-o json` shows it). */
export interface Description extends WorkloadView {
  events: EventView[];
}

/** The human form: a key/value summary, then the pods and events tables. */
export function describeText(d: Description, nowMs: number): string {
  const r = d.resources;
  const summary: [string, string][] = [
    ['Name', d.name],
    ['ID', d.id],
    ['Project', d.project],
    ['Type', d.type],
    ['Priority', `${d.priorityClass} (${d.priority}, ${d.preemptible ? 'preemptible' : 'non-preemptible'})`],
    ['Phase', d.phaseReason === '' ? d.phase : `${d.phase} (${d.phaseReason})`],
    ['Created', `${d.createdAt} (${formatAge(d.createdAt, nowMs)} ago)`],
    ['Command', d.command.map(shellWord).join(' ')],
    ['Replicas', `${d.replicas} (min ${d.minReplicas}, max ${d.maxReplicas})`],
    ['GPU per pod', gpuRequestText(r)],
    ['CPU per pod', r.cpuMillis === 0 ? '-' : `${r.cpuMillis / 1000} cores`],
    ['Memory per pod', r.memoryMiB === 0 ? '-' : formatMemoryMiB(r.memoryMiB)],
    ['Node pools', d.nodePools.join(', ')],
    ['On disconnect', d.disconnectPolicy],
    ['Restarts', restartText(d)],
  ];
  summary.push(...containerRows(d));
  if (d.readinessProbe !== undefined) summary.push(['Readiness probe', probeText(d.readinessProbe)]);
  summary.push(...networkRows(d));
  if (d.nodeTypes.length > 0) summary.push(['Node types', d.nodeTypes.join(', ')]);
  if (d.gpuModels.length > 0) summary.push(['GPU models', d.gpuModels.join(', ')]);
  const env = Object.entries(d.env);
  if (env.length > 0) summary.push(['Env', env.map(([k, v]) => `${k}=${v}`).join(' ')]);
  const width = Math.max(...summary.map(([k]) => k.length)) + 1;
  const lines = summary.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}\n`);

  const pods =
    d.pods.length === 0
      ? 'none yet\n'
      : formatTable({
          header: ['NAME', 'NODE', 'ADDRESS', 'PORTS', 'PHASE', 'GPUS', 'EXIT'],
          rows: d.pods.map((p) => [
            p.name,
            p.node ?? '-',
            ...podNetworkCells(d, p),
            p.phase,
            podGpus(p),
            p.exitCode?.toString() ?? '-',
          ]),
        });
  const events =
    d.events.length === 0
      ? 'none\n'
      : formatTable({
          header: ['TIME', 'FROM', 'TO', 'REASON', 'MESSAGE'],
          rows: d.events.map((e) => [e.time, e.from ?? '-', e.to, e.reason, e.message]),
        });
  return `${lines.join('')}\nPods:\n${pods}\nEvents:\n${events}`;
}

/** `0 (policy Never)`, or `2 of 6 (policy OnFailure)`: the restarts so far and what allows them. */
export function restartText(d: Pick<WorkloadView, 'restarts' | 'restartPolicy' | 'backoffLimit'>): string {
  return d.restartPolicy === 'Never'
    ? `${d.restarts} (policy Never)`
    : `${d.restarts} of ${d.backoffLimit} (policy OnFailure)`;
}

/**
 * What the pods run in and as: image and pull policy, the pull secret's name (the API never holds
 * its password out), working dir, user and group, mounts. Only the fields that are set.
 */
export function containerRows(
  d: Pick<
    WorkloadView,
    'image' | 'imagePullPolicy' | 'imagePullSecret' | 'workingDir' | 'runAsUser' | 'runAsGroup' | 'mounts'
  >,
): [string, string][] {
  const rows: [string, string][] = [];
  if (d.image !== undefined) rows.push(['Image', `${d.image} (pull ${d.imagePullPolicy ?? 'IfNotPresent'})`]);
  if (d.imagePullSecret !== undefined) rows.push(['Pull secret', d.imagePullSecret]);
  if (d.workingDir !== undefined) rows.push(['Working dir', d.workingDir]);
  const who = [
    d.runAsUser === undefined ? '' : `user ${d.runAsUser}`,
    d.runAsGroup === undefined ? '' : `group ${d.runAsGroup}`,
  ].filter((x) => x !== '');
  if (who.length > 0) rows.push(['Runs as', who.join(', ')]);
  // `mounts` is absent in a workload stored before mounts existed and read by an older allocator.
  const mounts = d.mounts ?? [];
  if (mounts.length > 0)
    rows.push([
      'Mounts',
      mounts
        .map(
          (m) =>
            `${m.hostPath}${m.containerPath === m.hostPath ? '' : ` -> ${m.containerPath}`} (${m.readOnly ? 'ro' : 'rw'})`,
        )
        .join(', '),
    ]);
  return rows;
}

/** A pod's GPU grants: uuid, share and memory of each, e.g. 'GPU-1a2b 0.5 40GiB'. */
function podGpus(p: PodView): string {
  if (p.gpus.length === 0) return '-';
  return p.gpus
    .map((g) => {
      const limit = g.memoryLimitMiB > g.memoryMiB ? ` (limit ${formatMemoryMiB(g.memoryLimitMiB)})` : '';
      return `${g.uuid} ${g.fraction} ${formatMemoryMiB(g.memoryMiB)}${limit}`;
    })
    .join(', ');
}

/** A command word as a shell would need it, so the printed command can be pasted back. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Adds `describe`'s flags, help and action to `command`. */
export function configure(command: Command, { io, workloadType }: CliContext): void {
  addClientOptions(
    command
      .description('Show one workload: spec, phase and reason, pods with their GPUs, and its phase history.')
      .addArgument(workloadArgument())
      .addOption(projectOption())
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (ref: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ project?: string; output: OutputFormat }>();
    // The listing the workload is found in already carries the pods, so only the events need a request.
    const { client, workload } = await connectToWorkload(ref, cmd, workloadType);
    const events = await client.list<EventView>(`/workloads/${encodeURIComponent(workload.id)}/events`);
    printData(io, flags.output, { ...workload, events }, (d) => describeText(d, Date.now()));
  });
}
