/**
 * The seams of enforcement (docs/architecture.md §4, "Enforcement"). The decision files are pure and see only
 * these shapes; the executors act through `PodControl` (the runner) and `SwapControl` (the GPU
 * driver), so nothing here imports the runner or a GPU backend and tests drive it with fakes.
 */
import type { Err, Result, TesseraError } from '../../common/errors.ts';
import type { GpuGrant } from '../../common/resources.ts';
import type { PodRunState } from '../runner/types.ts';

/**
 * What enforcement may do to a pod; the runner implements it. `kill` and `freeze` may answer with a
 * `Result` (the runner does) or anything else; a failed `Result`, like a rejection or a throw, is a
 * failure. Typed `unknown` so the runner plugs in as it is, whatever its success value.
 */
export interface PodControl {
  /** End the pod now (every process of it killed), recording `reason` as why it ended. */
  kill(podId: string, reason: string): Promise<unknown>;
  /** Freeze or thaw every process of the pod (time-slicing quanta): its cgroup's freezer where it has one. */
  freeze(podId: string, frozen: boolean): unknown;
  /** Every live pid of the pod. */
  pidsOf(podId: string): number[];
}

/**
 * GPU swap through the checkpoint tool. Named after `GpuDriver`'s methods so a driver is a
 * `SwapControl` as it is, with no adapter.
 */
export interface SwapControl {
  checkpoint(pid: number): Promise<Result<true>>;
  restore(pid: number): Promise<Result<true>>;
  /** Whether swap can work here at all; the error's message says why not (e.g. the tool is missing). */
  swapSupport(): Promise<Result<true>>;
}

/** A pod as enforcement sees it. */
export interface EnforcedPod {
  podId: string;
  priority: number;
  grants: GpuGrant[];
  state: PodRunState;
  /** Every pid of the pod's process group; sample rows are attributed to the pod through these. */
  pids: number[];
}

/** Memory of one GPU that tenants can use. */
export interface GpuCapacity {
  uuid: string;
  totalMiB: number;
  /** Held by the driver and firmware, never usable by a tenant (nvidia-smi's "Reserved"). */
  reservedMiB: number;
}

/** What an enforcement event records. */
export type EnforceEventKind =
  | 'gpu-oom-kill'
  | 'reclaim-kill'
  | 'swap-out'
  | 'swap-in'
  | 'swap-refused'
  | 'slice-pause'
  | 'slice-resume';

/** Every action of enforcement becomes one of these (and a counter). */
export interface EnforceEvent {
  atMs: number;
  kind: EnforceEventKind;
  podId: string;
  gpuUuid?: string;
  reason: string;
  usedMiB?: number;
  limitMiB?: number;
  requestMiB?: number;
}

/** A decision of the pure core, for the executor to carry out. */
export interface EnforceAction {
  action: 'kill' | 'swap-out';
  podId: string;
  /** The event to emit when the action is taken; its `atMs` is the sample's time. */
  event: EnforceEvent;
}

/**
 * Run states in which a pod's processes can hold GPU memory and be enforced on. Narrower than "may
 * still run" (link/map.ts mayStillRun, the fence guard): a stopping or swapped-out pod is not live.
 */
export const LIVE_STATES: ReadonlySet<PodRunState> = new Set<PodRunState>(['starting', 'running', 'ready']);

/** The error of a control call that answered with a failed `Result`; null for success or no answer. */
export function controlFailure(r: unknown): TesseraError | null {
  if (typeof r !== 'object' || r === null || !('ok' in r) || r.ok !== false || !('error' in r)) return null;
  return (r as Err).error;
}
