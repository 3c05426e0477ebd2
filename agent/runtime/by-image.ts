/**
 * The runtime of an agent started with `--runtime container`: a pod with an image runs in a
 * container, a pod without one on the process runtime (what development and the simulator use),
 * so one node serves both. Everything after the launch goes by the ref's kind.
 */
import type { PodRuntime, RuntimeRef } from './types.ts';

/** One runtime over `container` (pods with `image`) and `process` (pods without). */
export function createRuntimeByImage(container: PodRuntime, processRuntime: PodRuntime): PodRuntime {
  const of = (ref: RuntimeRef): PodRuntime => (ref.kind === 'container' ? container : processRuntime);
  return {
    kind: 'container',
    launch: (req) => (req.spec.image === undefined ? processRuntime : container).launch(req),
    adopt: (ref, spec) => of(ref).adopt(ref, spec),
    signal: (ref, signal) => of(ref).signal(ref, signal),
    alive: (ref) => of(ref).alive(ref),
    pids: (ref) => of(ref).pids(ref),
    freeze: (ref, frozen) => of(ref).freeze(ref, frozen),
    release: (ref) => of(ref).release(ref),
  };
}
