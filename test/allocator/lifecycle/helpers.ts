/** Stores with workloads bound through `applyPlan`, and agent reports, for the lifecycle and dispatch tests. */
import { wirePodId } from '../../../allocator/link/pod-id.ts';
import type { Bind, Plan } from '../../../allocator/scheduler/plan.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { getPod, type PodRecord } from '../../../allocator/store/pods.ts';
import { submitWorkload } from '../../../allocator/store/workloads.ts';
import type { GpuGrant } from '../../../common/resources.ts';
import type { WirePodState, WirePodStatus } from '../../../common/wire.ts';
import { must, T0 } from '../store/helpers.ts';

export { gpus, must, openTemp, smallOrg, T0, tempDir, training } from '../store/helpers.ts';

/** Clock of the binds these tests make. */
export const T_BIND = T0 + 10;

/** A whole-GPU grant of GPU `i` of `node` (smallOrg names them `GPU-<node>-<i>`). */
export function grant(node: string, i: number): GpuGrant {
  return { uuid: `GPU-${node}-${i}`, gpuMilli: 1000, memoryMiB: 81_920, memoryLimitMiB: 81_920 };
}

/** A plan with only the parts given. */
export function plan(p: Partial<Plan>): Plan {
  return { binds: [], evictions: [], phaseChanges: [], pending: [], ...p };
}

/** A bind of `pod` of `group` on GPU `gpu` of `node`. */
export function bind(group: string, pod: string, node: string, gpu = 0): Bind {
  return { group, pod, node, grants: [grant(node, gpu)], action: 'allocate' };
}

/**
 * Submits `spec` as workload `id` and binds pod `<name>-i` at `placements[i]` (`[node, gpu]`) in one
 * plan, as a scheduling cycle would: the workload ends up Initializing with Bound pods at epoch 1.
 */
export function submitBound(
  db: Db,
  id: string,
  spec: Record<string, unknown>,
  placements: readonly (readonly [string, number])[],
  nowMs = T_BIND,
): void {
  must(submitWorkload(db, spec, T0, { id }));
  const binds = placements.map(([node, gpu], i) => bind(id, `${String(spec.name)}-${i}`, node, gpu));
  applyPlan(db, plan({ binds }), nowMs);
}

/** A distributed (elastic) spec in project nlp of `replicas` one-GPU pods, at least `minReplicas` of them. */
export function distributed(name: string, replicas: number, minReplicas = replicas): Record<string, unknown> {
  return {
    name,
    project: 'nlp',
    type: 'distributed',
    command: ['torchrun', 'train.py'],
    replicas,
    minReplicas,
    resources: { gpuDevices: 1 },
  };
}

/** The stored pod; fails the test when it is missing. */
export function podOf(db: Db, workload: string, name: string): PodRecord {
  const p = getPod(db, workload, name);
  if (p === undefined) throw new Error(`no pod ${name} of ${workload}`);
  return p;
}

/** An agent's report of `pod` in `state` at its current epoch. */
export function report(
  pod: PodRecord,
  state: WirePodState,
  extra: Partial<WirePodStatus> = {},
): WirePodStatus {
  return {
    podId: wirePodId(pod.workload, pod.name),
    epoch: pod.epoch,
    state,
    pid: state === 'exited' || state === 'lost' ? null : 4242,
    exitCode: null,
    signal: null,
    reason: null,
    startedAtMs: T0,
    ...extra,
  };
}
