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

/** A built runtime and what the agent should say about the choice once it runs. */
export interface CreatedRuntime {
  runtime: PodRuntime;
  /** Why the runtime is not the one the default would have picked; null when it is. */
  note: string | null;
}

/**
 * Builds the runtime `choice` names. Asked for by name, `container` without its module is an error;
 * chosen by default (podman on PATH), it falls back to `process`, and `note` says so.
 */
export async function createRuntime(choice: RuntimeChoice, log: Logger): Promise<Result<CreatedRuntime>> {
  const processRuntime = (note: string | null): Result<CreatedRuntime> =>
    ok({
      note,
      runtime: createProcessRuntime({
        podRoot: choice.podRoot,
        cgroupParent: choice.cgroupParent,
        uidRange: choice.uidRange,
        adoptPollMs: 500,
        log: log.child({ component: 'runtime', runtime: 'process' }),
      }),
    });
  if (runtimeKindOf(choice) === 'process') return processRuntime(null);
  const container = await createContainerRuntimeIfBuilt(choice, log);
  if (container.ok) return ok({ runtime: container.value, note: null });
  if (choice.kind === 'container') return container;
  return processRuntime(
    `podman is on PATH but this agent has no container runtime, so pods run with the process runtime (${container.error.message})`,
  );
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
