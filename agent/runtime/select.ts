/**
 * Which runtime an agent runs its pods with, and building it: `--runtime process|container`, by
 * default `container` where `podman` is on PATH, else `process`. The only place the agent names a
 * runtime implementation.
 */
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { createRuntimeByImage } from './by-image.ts';
import { type ContainerRuntimeOptions, createContainerRuntime } from './container/index.ts';
import { findExecutable } from './executable.ts';
import type { IdRange } from './process/ids.ts';
import { createProcessRuntime } from './process/runtime.ts';
import type { PodRuntime, RuntimeKind } from './types.ts';

/** The runtime settings of `tessera agent`, normalised. */
export interface RuntimeChoice {
  /** null: `container` when podman is on PATH, else `process`. */
  kind: RuntimeKind | null;
  /** `--pod-root`: each pod's own dir is `<podRoot>/<podId>`. */
  podRoot: string;
  /** `--pod-uid-range`: ids a root agent gives its pods; null: pods run as the agent's user. */
  uidRange: IdRange | null;
  /** `--cgroup-parent`: pod cgroups go under it, e.g. `tessera/<nodeName>`, so two agents never collide. */
  cgroupParent: string;
  /** The container runtime's settings (`--podman`, `--insecure-registry`, `--pull-retries`, ...). */
  container: Omit<ContainerRuntimeOptions, 'logger' | 'cgroupParent'>;
}

/** The kind `choice` asks for, the default resolved. */
export function runtimeKindOf(
  choice: Pick<RuntimeChoice, 'kind'>,
  podmanOnPath = findExecutable('podman'),
): RuntimeKind {
  return choice.kind ?? (podmanOnPath ? 'container' : 'process');
}

/** A built runtime and what the agent should say about the choice once it runs. */
export interface CreatedRuntime {
  runtime: PodRuntime;
  /** Why the runtime is not the one the default would have picked; null when it is. */
  note: string | null;
}

/**
 * Builds the runtime `choice` names. `container` runs pods with an image in Podman containers and
 * pods without one on the process runtime (by-image.ts); `process` refuses pods with an image.
 */
export function createRuntime(choice: RuntimeChoice, log: Logger): Result<CreatedRuntime> {
  const processRuntime = createProcessRuntime({
    podRoot: choice.podRoot,
    cgroupParent: choice.cgroupParent,
    uidRange: choice.uidRange,
    adoptPollMs: 500,
    log: log.child({ component: 'runtime', runtime: 'process' }),
  });
  if (runtimeKindOf(choice) === 'process') return ok({ runtime: processRuntime, note: null });
  const podman = choice.container.podmanPath ?? 'podman';
  if (choice.kind === 'container' && !findExecutable(podman)) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--runtime container: ${podman} is not on PATH; install Debian's podman and runc (apt-get install --no-install-recommends podman runc), or run with --runtime process`,
        { field: 'runtime' },
      ),
    );
  }
  const container = createContainerRuntime({
    ...choice.container,
    // One parent for both runtimes' pods: `<parent>/<pod>-e<epoch>` and `<parent>/libpod-<id>`.
    cgroupParent: `/${choice.cgroupParent.replace(/^\/+/, '')}`,
    logger: log.child({ component: 'runtime', runtime: 'container' }),
  });
  return ok({ runtime: createRuntimeByImage(container, processRuntime), note: null });
}
