/**
 * The agent's directories as pods may see them. The data dir is 0700: logs, checkpoint and
 * credentials are no pod's business (pods write their output through fds the agent opens).
 *
 * And the sim GPU backend for pods of the process runtime, each its own uid: the sim's state
 * directory stands in for the kernel driver, where any GPU client registers its memory. So the state
 * dir becomes readable and passable by all (0755), and its `procs/` writable by all (0777), where a
 * pod writes its own registration as the real driver would record it. Not sticky on purpose: the
 * agent's `cuda-checkpoint` (root) rewrites a pod's files and the pod must then replace them, and a
 * stale lock of a killed pod must be breakable by another. This is the dev/test backend: pods can
 * tamper with each other's sim registrations, as they never could with a real driver's accounting.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

/** Creates the data dir 0700 (and makes it so if it existed) and shares the sim state, warning where pods cannot reach it. */
export async function prepareAgentDirs(
  dataDir: string,
  simStateDir: string | null,
  log: Logger,
): Promise<Result<void>> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
    const blocked = simStateDir === null ? null : await shareSimStateWithPods(simStateDir);
    if (blocked !== null) {
      log.warn(
        'pods running as other users cannot reach the sim state dir to register GPU memory: a directory above it is closed to others; give --sim-state a path outside the data dir that others may pass, or --pod-uid-range agent',
        { simStateDir, closed: blocked },
      );
    }
    return ok(undefined);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `agent data dir ${dataDir} cannot be created: ${why}`, {
        field: 'data',
        context: { path: dataDir },
      }),
    );
  }
}

/**
 * Opens `simStateDir` and its `procs/` to pods running as other users (see the file comment); returns
 * the first directory above it that other users cannot pass (say a 0700 data dir or home), where
 * pods of other uids cannot reach the state at all, or null.
 */
export async function shareSimStateWithPods(simStateDir: string): Promise<string | null> {
  const procs = join(simStateDir, 'procs');
  await mkdir(procs, { recursive: true });
  await chmod(simStateDir, 0o755);
  await chmod(procs, 0o777);
  for (let dir = dirname(resolve(simStateDir)); ; dir = dirname(dir)) {
    // Others' execute bit: whether a pod's uid may pass through on its way to the state dir.
    if (((await stat(dir)).mode & 0o001) === 0) return dir;
    if (dirname(dir) === dir) return null;
  }
}
