/**
 * `tessera submit`'s serving flags: `--public`, the autoscaling of an inference workload
 * (`--autoscale-metric`, `--autoscale-target`, `--scale-to-zero-after`; with them `--min-replicas`
 * and `--max-replicas` are the autoscaling range) and a workspace's `--tool` / `--tool-port`. The
 * allocator checks every value and names the field; this only shapes the body.
 */
import { type Command, Option } from 'commander';
import {
  AUTOSCALE_METRICS,
  type AutoscaleMetric,
  WORKSPACE_TOOLS,
  type WorkspaceTool,
} from '../../common/workload-serving.ts';
import { usageError } from '../errors.ts';
import type { SubmitBody } from './submit-body.ts';

/** The serving flags as commander hands them over. */
export interface RawServingFlags {
  public?: boolean;
  autoscaleMetric?: AutoscaleMetric;
  autoscaleTarget?: string;
  scaleToZeroAfter?: string;
  tool?: WorkspaceTool;
  toolPort?: string;
}

/** Adds the serving flags to `command`. */
export function addServingOptions(command: Command): Command {
  return command
    .option(
      '--public',
      'serve /serve/PROJECT/NAME/ without a token (where the allocator allows public serving)',
    )
    .addOption(
      new Option(
        '--autoscale-metric <metric>',
        'inference: scale replicas by this load measured at the proxy',
      ).choices(AUTOSCALE_METRICS),
    )
    .option(
      '--autoscale-target <n>',
      'inference: the metric per replica to aim at (e.g. 4 requests in flight)',
    )
    .option(
      '--scale-to-zero-after <seconds>',
      'inference: idle this long, stop the last replica (needs --min-replicas 0)',
    )
    .addOption(new Option('--tool <tool>', 'workspace: the tool it serves').choices(WORKSPACE_TOOLS))
    .option('--tool-port <name>', "workspace: the name of the port the tool listens on (default 'tool')");
}

function numberOf(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw usageError(flag, `${flag} takes a number, got '${value}'`);
  return n;
}

/** Moves the serving flags into `body` (with autoscaling, the replica range moves into it too). */
export function applyServingFlags(flags: RawServingFlags, body: Partial<SubmitBody>): void {
  if (flags.public === true) body.public = true;
  if (flags.tool !== undefined) body.tool = flags.tool;
  if (flags.toolPort !== undefined) body.toolPort = flags.toolPort;
  const scaling = flags.autoscaleTarget !== undefined || flags.scaleToZeroAfter !== undefined;
  if (flags.autoscaleMetric === undefined) {
    if (scaling)
      throw usageError(
        '--autoscale-metric',
        'give --autoscale-metric with --autoscale-target and --scale-to-zero-after',
      );
    return;
  }
  if (flags.autoscaleTarget === undefined)
    throw usageError('--autoscale-target', 'give --autoscale-target: the metric per replica to aim at');
  body.autoscaling = {
    metric: flags.autoscaleMetric,
    target: numberOf(flags.autoscaleTarget, '--autoscale-target'),
    ...(body.minReplicas === undefined ? {} : { minReplicas: body.minReplicas }),
    ...(body.maxReplicas === undefined ? {} : { maxReplicas: body.maxReplicas }),
    ...(flags.scaleToZeroAfter === undefined
      ? {}
      : { scaleToZeroAfterSeconds: numberOf(flags.scaleToZeroAfter, '--scale-to-zero-after') }),
  };
  delete body.minReplicas;
  delete body.maxReplicas;
}
