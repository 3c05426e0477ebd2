/**
 * `tessera submit`'s restart flags: `--restart-policy Never|OnFailure` and `--backoff-limit N`, as
 * the spec's `restartPolicy` and `backoffLimit` (common/workload-restart.ts, which checks the range
 * and names the field in its errors).
 */
import { type Command, Option } from 'commander';
import { RESTART_DEFAULTS, RESTART_POLICIES, type RestartPolicy } from '../../common/workload-restart.ts';
import { usageError } from '../errors.ts';

/** The restart flags as commander hands them over. */
export interface RawRestartFlags {
  restartPolicy?: RestartPolicy;
  backoffLimit?: string;
}

/** The restart fields of a submitted body: only those the user set. */
export interface SubmitRestart {
  restartPolicy?: RestartPolicy;
  backoffLimit?: number;
}

/** Adds the restart flags to `command`. */
export function addRestartOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--restart-policy <policy>',
        `what a failed pod does: Never fails the workload (default); OnFailure restarts it, or the whole gang when it has several pods`,
      ).choices(RESTART_POLICIES),
    )
    .option(
      '--backoff-limit <n>',
      `restarts allowed under --restart-policy OnFailure before the workload fails (default ${RESTART_DEFAULTS.backoffLimit})`,
    );
}

/** The spec fields the restart flags set; throws a usage error for a count that is not a number. */
export function restartFields(flags: RawRestartFlags): SubmitRestart {
  const out: SubmitRestart = {};
  if (flags.restartPolicy !== undefined) out.restartPolicy = flags.restartPolicy;
  if (flags.backoffLimit !== undefined) {
    if (!/^\d+$/.test(flags.backoffLimit.trim()))
      throw usageError(
        '--backoff-limit',
        `--backoff-limit '${flags.backoffLimit}' must be a whole number, e.g. 3`,
      );
    out.backoffLimit = Number(flags.backoffLimit);
  }
  return out;
}
