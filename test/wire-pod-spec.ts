/** StartPod spec parts the wire tests share. */
import type { WireContainerFields } from '../common/wire.ts';

/** The container fields of a pod on the process runtime: no image, user, mounts or limits. */
export function noContainer(): WireContainerFields {
  return {
    image: null,
    imagePullPolicy: null,
    pullCredential: null,
    runAsUser: null,
    runAsGroup: null,
    mounts: [],
    cpuMillis: 0,
    memoryMiB: 0,
  };
}
