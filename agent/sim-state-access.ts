/**
 * Lets pods of the process runtime, each its own uid, use the sim GPU backend: the sim's state
 * directory stands in for the kernel driver, where any GPU client registers its memory. So the state
 * dir becomes readable and passable by all (0755), and its `procs/` writable by all (0777), where a
 * pod writes its own registration as the real driver would record it. Not sticky on purpose: the
 * agent's `cuda-checkpoint` (root) rewrites a pod's files and the pod must then replace them, and a
 * stale lock of a killed pod must be breakable by another. This is the dev/test backend: pods can
 * tamper with each other's sim registrations, as they never could with a real driver's accounting.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

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
