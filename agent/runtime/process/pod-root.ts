/**
 * A pod's own directory under the pod root (`<podRoot>/<podId>`), outside the agent's data dir:
 * owned by the pod's uid, mode 0700, so no other pod can list or read it. Removed when the pod is
 * released, because its uid goes back to the pool and the next pod given that uid must not find it.
 */
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import type { PodIdentity } from './wrapper.ts';

/** `<podRoot>/<podId>`. */
export function podRootDir(podRoot: string, podId: string): string {
  return join(podRoot, podId);
}

/** Creates the pod root (0711: pods may pass through, not list it) and the pod's dir, fresh, owned by `identity`. */
export function preparePodRootDir(
  podRoot: string,
  podId: string,
  identity: PodIdentity | null,
): Result<string> {
  const dir = podRootDir(podRoot, podId);
  try {
    mkdirSync(podRoot, { recursive: true, mode: 0o711 });
    chmodSync(podRoot, 0o711);
    // Fresh per epoch: what an earlier epoch (maybe another uid) left is not this pod's.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    if (identity !== null) chownSync(dir, identity.uid, identity.gid);
    chmodSync(dir, 0o700);
    return ok(dir);
  } catch (x) {
    return err(
      tesseraError(
        'TESSERA_E_INTERNAL',
        `pod ${podId}: cannot prepare its dir ${dir}: ${(x as Error).message}`,
        {
          field: 'pod-root',
          context: { podId, path: dir },
        },
      ),
    );
  }
}

/** Removes the pod's dir; true when it is gone. */
export function removePodRootDir(podRoot: string, podId: string): boolean {
  try {
    rmSync(podRootDir(podRoot, podId), { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}
