/**
 * The container runtime (docs/architecture.md §4): pods as Podman containers. `runtime.ts` drives
 * podman and the pod's cgroup; `args.ts` builds podman's command lines (pure); `pull.ts` and
 * `pull-error.ts` get images per pull policy; `inspect.ts` reads `podman inspect`; `gpus.ts`
 * chooses GPU devices (CDI, device nodes, sim); `watch.ts` notices ends; `options.ts` holds the
 * options and their defaults; `podman.ts` is the only file that runs podman (and reads its output back from the pod's log).
 */

export type { ContainerRuntimeOptions, PullRetry, Ulimit } from './options.ts';
export { createContainerRuntime } from './runtime.ts';
