/**
 * `tessera top`: each node's GPUs with utilization, memory and the pods on them, then each
 * workload's GPU use summed over its pods (`GET /top`; workload awareness).
 */
import type { Command } from 'commander';
import type { TopView } from '../../allocator/service/top.ts';
import { formatMemoryMiB } from '../../common/resources.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera top
  $ tessera top -o json | jq '.workloads[] | {name, gpuMemoryUsedMiB}'

A GPU's use is split among the pods on it by their share of it; UTIL of a workload is summed in
percent of one GPU (two GPUs at 50% show 100%).
`;

const pct = (v: number | null): string => (v === null ? '-' : `${v}%`);
const mib = (v: number | null): string => (v === null ? '-' : formatMemoryMiB(v));

/** The human form: a GPUs table and a workloads table. */
export function topText(t: TopView): string {
  const gpuRows = t.nodes.flatMap((n) =>
    n.gpus.map((g) => [
      n.lost ? `${n.name} (lost)` : n.name,
      String(g.index),
      g.model,
      pct(g.utilizationPct),
      `${mib(g.memoryUsedMiB)} / ${mib(g.memoryTotalMiB)}`,
      g.pods.length === 0 ? '-' : g.pods.map((p) => `${p.pod} (${p.fraction})`).join(', '),
    ]),
  );
  const gpus =
    gpuRows.length === 0
      ? 'no GPUs\n'
      : formatTable({ header: ['NODE', 'GPU', 'MODEL', 'UTIL', 'MEMORY', 'PODS'], rows: gpuRows });
  const workloads =
    t.workloads.length === 0
      ? 'no workloads on GPUs\n'
      : formatTable({
          header: ['WORKLOAD', 'PROJECT', 'PHASE', 'PODS', 'GPUS', 'UTIL', 'GPU MEMORY'],
          rows: t.workloads.map((w) => [
            w.name,
            w.project,
            w.phase,
            String(w.pods),
            String(w.gpus),
            pct(w.gpuUtilizationPct),
            mib(w.gpuMemoryUsedMiB),
          ]),
        });
  return `${gpus}\n${workloads}`;
}

/** Adds `top`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addClientOptions(
    command
      .description('Show GPU utilization and memory by node and GPU, and summed by workload.')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    printData(io, flags.output, await client.request<TopView>('GET', '/top'), topText);
  });
}
