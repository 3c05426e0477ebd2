/**
 * Which runtime an agent runs its pods with, and building it: `--runtime process|container`, by
 * default `container` where `podman` is on PATH, else `process`. The only place the agent names a
 * runtime implementation.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
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
}

/** True when `name` is an executable on `path` (a PATH value). */
export function onPath(name: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((d) => {
    if (d === '') return false;
    try {
      accessSync(join(d, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The kind `choice` asks for, the default resolved. */
export function runtimeKindOf(
  choice: Pick<RuntimeChoice, 'kind'>,
  podmanOnPath = onPath('podman'),
): RuntimeKind {
  return choice.kind ?? (podmanOnPath ? 'container' : 'process');
}

/** Builds the runtime `choice` names. */
export async function createRuntime(choice: RuntimeChoice, log: Logger): Promise<Result<PodRuntime>> {
  const kind = runtimeKindOf(choice);
  if (kind === 'process') {
    return ok(
      createProcessRuntime({
        podRoot: choice.podRoot,
        cgroupParent: choice.cgroupParent,
        uidRange: choice.uidRange,
        adoptPollMs: 500,
        log: log.child({ component: 'runtime', runtime: 'process' }),
      }),
    );
  }
  return createContainerRuntimeIfBuilt(choice, log);
}

/**
 * THE PLUG-IN POINT of the container runtime (agent/runtime/container/index.ts,
 * `createContainerRuntime(opts)`), built in parallel. Loaded by a computed path so this branch
 * compiles without it; once it is in, replace the body with a static import and a call.
 */
async function createContainerRuntimeIfBuilt(
  choice: RuntimeChoice,
  log: Logger,
): Promise<Result<PodRuntime>> {
  const notBuilt = (why: string): Result<never> =>
    err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--runtime container: the container runtime is not built yet in this agent (${why}); run with --runtime process`,
        { field: 'runtime' },
      ),
    );
  let mod: unknown;
  try {
    mod = await import(new URL('./container/index.ts', import.meta.url).href);
  } catch (x) {
    return notBuilt((x as Error).message);
  }
  const create =
    typeof mod === 'object' && mod !== null && 'createContainerRuntime' in mod
      ? mod.createContainerRuntime
      : undefined;
  if (typeof create !== 'function')
    return notBuilt('agent/runtime/container/index.ts has no createContainerRuntime');
  const runtime: unknown = await create({
    podRoot: choice.podRoot,
    cgroupParent: choice.cgroupParent,
    log: log.child({ component: 'runtime', runtime: 'container' }),
  });
  const value =
    typeof runtime === 'object' && runtime !== null && 'ok' in runtime
      ? (runtime as Result<PodRuntime>)
      : ok(runtime as PodRuntime);
  return value;
}
