/**
 * HAMi-core (the CUDA memory limiter the agent preloads where it is installed) accounts a pod's
 * processes together in one file, `CUDA_DEVICE_MEMORY_SHARED_CACHE`. The runner names it in the
 * pod's directory under the agent's data dir, which a pod of another uid, or in a container, cannot
 * reach; each runtime moves it to a directory the pod writes, keeping its per-epoch file name.
 */
import { basename, join } from 'node:path';

/** The env with HAMi-core's accounting file moved into `dir`; unchanged when the variable is unset. */
export function withHamiCacheIn(env: Readonly<Record<string, string>>, dir: string): Record<string, string> {
  const file = env.CUDA_DEVICE_MEMORY_SHARED_CACHE;
  if (file === undefined) return { ...env };
  return { ...env, CUDA_DEVICE_MEMORY_SHARED_CACHE: join(dir, basename(file)) };
}
