/**
 * Launching one pod's process: its grants checked against the node, its env built, its log files
 * rotated and handed to the child, the child started as the leader of its own process group. What
 * the runner does with the process afterwards (the table, the checkpoint, watching) is pods.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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

/** Starts `spec`'s command in `cwd`, its output to the logs under `dir`; the child is its group's leader (detached). */
export function launchPod(
  cfg: LaunchConfig,
  spec: PodSpec,
  dir: string,
  cwd: string,
): Result<{ child: ChildProcess; pid: number }> {
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
  let child: ChildProcess;
  try {
    // Each epoch starts in fresh files: earlier output moves to `.1`, and readiness scans from 0.
    rotateByRename(logPath(dir, 'stdout'), cfg.rotation);
    rotateByRename(logPath(dir, 'stderr'), cfg.rotation);
    fds.push(openLogForPod(dir, 'stdout'), openLogForPod(dir, 'stderr'));
    const [cmd = '', ...args] = spec.command;
    child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', fds[0], fds[1]] });
  } catch (x) {
    return err(
      tesseraError('TESSERA_E_INVALID_SPEC', `pod ${spec.podId}: cannot start: ${(x as Error).message}`, {
        field: 'command',
        context: { podId: spec.podId },
      }),
    );
  } finally {
    // The child has its own copies now; ours would only keep the files open.
    for (const fd of fds) closeFd(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    // Node reports ENOENT / EACCES as a later 'error' event; without a listener it would throw.
    child.on('error', () => {});
    return err(
      tesseraError(
        'TESSERA_E_INVALID_SPEC',
        `pod ${spec.podId}: cannot start ${JSON.stringify(spec.command[0])}: not found or not executable (cwd ${cwd}, PATH ${env.PATH ?? 'unset'})`,
        { field: 'command', context: { podId: spec.podId } },
      ),
    );
  }
  return ok({ child, pid });
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing leaks.
  }
}
