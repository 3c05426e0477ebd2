/**
 * The quota flags `tessera project` and `tessera department` share: one pool's deserved GPUs, its
 * over-quota weight and its limit. The API replaces a queue's whole quota set on update, so an
 * update here reads the set, changes the one pool the flags name and sends the set back.
 */
import type { Command } from 'commander';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { formatAge, formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { QuotaView } from '../client/views.ts';
import { usageError } from '../errors.ts';
import type { CliIo } from '../io.ts';

/** The quota flags as commander hands them over. */
export interface RawQuotaFlags {
  gpu?: string;
  overQuotaWeight?: string;
  limit?: string;
  nodePool: string;
  removeQuota?: boolean;
}

/** One quota as the API takes it. */
export interface QuotaBody {
  nodePool: string;
  gpu: number;
  overQuotaWeight?: number;
  limit?: number;
}

/** Adds --gpu, --over-quota-weight, --limit and --node-pool (and, for updates, --remove-quota). */
export function addQuotaOptions(command: Command, update = false): Command {
  command
    .option('--gpu <n>', update ? 'deserved GPUs, e.g. 4 or 0.5' : 'deserved GPUs, e.g. 4 or 0.5 (default 0)')
    .option('--over-quota-weight <w>', 'share of idle GPUs beyond the quota (default 1)')
    .option('--limit <n>', 'most GPUs it may hold, -1 for no limit (default: no limit)')
    .option('--node-pool <pool>', 'the node pool the quota is in', 'default');
  if (update) command.option('--remove-quota', 'remove the quota in --node-pool');
  return command;
}

/** True when any quota flag was given. */
export function hasQuotaFlags(f: RawQuotaFlags): boolean {
  return f.gpu !== undefined || f.overQuotaWeight !== undefined || f.limit !== undefined;
}

/** A flag's value as a number (the API checks its range). */
export function numberFlag(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw usageError(flag, `${flag} '${value}' must be a number`);
  return n;
}

/** The quota the flags describe in their pool, on top of `base` (that pool's quota now, if any). */
export function quotaOf(f: RawQuotaFlags, base?: QuotaView): QuotaBody {
  const q: QuotaBody = {
    nodePool: f.nodePool,
    gpu: f.gpu === undefined ? (base?.gpu ?? 0) : numberFlag(f.gpu, '--gpu'),
  };
  const weight =
    f.overQuotaWeight === undefined
      ? base?.overQuotaWeight
      : numberFlag(f.overQuotaWeight, '--over-quota-weight');
  if (weight !== undefined) q.overQuotaWeight = weight;
  const limit = f.limit === undefined ? base?.limit : numberFlag(f.limit, '--limit');
  if (limit !== undefined) q.limit = limit;
  return q;
}

/** The whole quota set after an update: `current` with the flags' pool set or removed. */
export function updatedQuotas(current: readonly QuotaView[], f: RawQuotaFlags): QuotaBody[] {
  if (f.removeQuota === true && hasQuotaFlags(f))
    throw usageError(
      '--remove-quota',
      '--remove-quota removes the quota in --node-pool: give it without --gpu, --over-quota-weight or --limit',
    );
  if (f.removeQuota !== true && !hasQuotaFlags(f))
    throw usageError(
      '--gpu',
      'nothing to update: give --gpu, --over-quota-weight or --limit (with --node-pool), or --remove-quota',
    );
  const keep = current.filter((q) => q.nodePool !== f.nodePool);
  if (f.removeQuota === true && keep.length === current.length)
    throw usageError('--node-pool', `there is no quota in node pool ${f.nodePool} to remove`);
  const rest: QuotaBody[] = keep.map((q) => ({
    nodePool: q.nodePool,
    gpu: q.gpu,
    overQuotaWeight: q.overQuotaWeight,
    limit: q.limit,
  }));
  if (f.removeQuota === true) return rest;
  return [
    ...rest,
    quotaOf(
      f,
      current.find((q) => q.nodePool === f.nodePool),
    ),
  ];
}

/** A queue's quotas, one row per pool: the `describe` and `list` form of departments. */
export function quotaRows(
  name: string,
  quotas: readonly QuotaView[],
  createdAt: string,
  nowMs: number,
): string[][] {
  const age = formatAge(createdAt, nowMs);
  const limit = (n: number) => (n === -1 ? 'none' : String(n));
  if (quotas.length === 0) return [[name, '-', '0', '-', 'none', age]];
  return quotas.map((q) => [name, q.nodePool, String(q.gpu), String(q.overQuotaWeight), limit(q.limit), age]);
}

/** Departments (or any queues) as a table of their per-pool quotas. */
export function queueTable(
  queues: readonly { name: string; quotas: readonly QuotaView[]; createdAt: string }[],
  nowMs: number,
  none: string,
): string {
  if (queues.length === 0) return `${none}\n`;
  return formatTable({
    header: ['NAME', 'NODE POOL', 'GPU QUOTA', 'OVER-QUOTA WEIGHT', 'LIMIT', 'AGE'],
    rows: queues.flatMap((q) => quotaRows(q.name, q.quotas, q.createdAt, nowMs)),
  });
}

/**
 * Adds `update <name>` to a department's or project's command: reads its quota set, changes or
 * removes the one pool the flags name, writes the set back, and prints it with `render`.
 */
export function addQuotaUpdate<V extends { quotas: QuotaView[] }>(
  command: Command,
  io: CliIo,
  kind: 'department' | 'project',
  render: (view: V) => string,
  examples: string,
): void {
  addClientOptions(
    addQuotaOptions(
      command
        .command('update <name>')
        .description(`Set or remove a ${kind}'s quota in one node pool; its quotas in other pools stay.`),
      true,
    )
      .addOption(outputOption())
      .addHelpText('after', examples),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawQuotaFlags & { output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const path = `/${kind}s/${encodeURIComponent(name)}`;
    const current = await client.request<V>('GET', path);
    const updated = await client.request<V>('PATCH', path, { quotas: updatedQuotas(current.quotas, flags) });
    printData(io, flags.output, updated, render);
  });
}
