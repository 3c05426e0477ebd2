/**
 * What the runner prepares before a runtime starts a pod: its grants checked against the node, its
 * whole environment built (nothing of the agent's beyond the allowlist), and its log files rotated
 * and opened, so the runtime hands the pod file descriptors and never a path into the agent's data
 * dir. Starting the process is the runtime's (agent/runtime/types.ts).
 */
import { closeSync } from 'node:fs';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import { grantProblems, type NodeEnvInfo, podProcessEnv } from './env.ts';
import { type LogRotation, logPath, openLogForPod, rotateByRename } from './logs.ts';
import type { PodSpec } from './types.ts';

/** What a launch needs from the runner's options, normalised. */
export interface LaunchConfig {
  node: NodeEnvInfo;
  baseEnv: Readonly<Record<string, string>>;
  /** The agent's own variables for every pod; not filtered (see `RunnerOptions.nodeEnv`). */
  nodeEnv: Readonly<Record<string, string>>;
  rotation: Readonly<LogRotation>;
}

/** A pod's environment and open log files; the caller closes the fds once the runtime has its copies. */
export interface PreparedLaunch {
  env: Record<string, string>;
  stdoutFd: number;
  stderrFd: number;
}

/** Checks `spec`'s grants, builds its env and opens fresh log files under `dir`. */
export function prepareLaunch(cfg: LaunchConfig, spec: PodSpec, dir: string): Result<PreparedLaunch> {
  const problems = grantProblems(spec, cfg.node);
  if (problems.length > 0) {
    return err(
      tesseraError('TESSERA_E_INVALID_SPEC', `pod ${spec.podId}: ${problems.join('; ')}`, {
        field: 'grants',
        context: { podId: spec.podId },
      }),
    );
  }
  const env = podProcessEnv(cfg.baseEnv, cfg.nodeEnv, spec, cfg.node, { podDir: dir });
  const fds: number[] = [];
  try {
    // Each epoch starts in fresh files: earlier output moves to `.1`, and readiness scans from 0.
    rotateByRename(logPath(dir, 'stdout'), cfg.rotation);
    rotateByRename(logPath(dir, 'stderr'), cfg.rotation);
    fds.push(openLogForPod(dir, 'stdout'), openLogForPod(dir, 'stderr'));
  } catch (x) {
    for (const fd of fds) closeFd(fd);
    return err(
      tesseraError(
        'TESSERA_E_INTERNAL',
        `pod ${spec.podId}: cannot open its log files in ${dir}: ${(x as Error).message}`,
        {
          context: { podId: spec.podId },
        },
      ),
    );
  }
  return ok({ env, stdoutFd: fds[0] ?? -1, stderrFd: fds[1] ?? -1 });
}

/** Closes an fd; one already closed is fine. */
export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing leaks.
  }
}
