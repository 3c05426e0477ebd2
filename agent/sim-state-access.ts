/**
 * Lets pods of the process runtime, each its own uid, use the sim GPU backend: the sim's state
 * directory stands in for the kernel driver, where any GPU client registers its memory. So the state
 * dir becomes readable and passable by all (0755), and its `procs/` writable by all (0777), where a
 * pod writes its own registration as the real driver would record it. Not sticky on purpose: the
 * agent's `cuda-checkpoint` (root) rewrites a pod's files and the pod must then replace them, and a
 * stale lock of a killed pod must be breakable by another. This is the dev/test backend: pods can
 * tamper with each other's sim registrations, as they never could with a real driver's accounting.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Opens `simStateDir` and its `procs/` to pods running as other users (see the file comment). */
export async function shareSimStateWithPods(simStateDir: string): Promise<void> {
  const procs = join(simStateDir, 'procs');
  await mkdir(procs, { recursive: true });
  await chmod(simStateDir, 0o755);
  await chmod(procs, 0o777);
}
