/**
 * Tentative changes to a session, undone whole or kept whole (KAI's Statement).
 *
 * A gang placement or a preemption scenario is tried inside a checkpoint; if any part fails the
 * whole try is rolled back, so no action ever undoes work by hand.
 */
import { fractionToMemoryMiB, type Resources } from '../../common/resources.ts';
import { applyPlacement, chargeGrants, releaseGrants, takesToGrants } from './placement/mutate.ts';
import type { GpuState, GpuTake, NodeState } from './placement/types.ts';
import type { ActionName, Bind, Eviction } from './plan.ts';
import {
  chargeQueues,
  type GroupState,
  grantResources,
  indexPod,
  type PodState,
  type Session,
  syncShares,
} from './session.ts';

/** How a pod's resources move on its node: a new placement, a pod that runs again, a pod gone. */
type NodeWrite = 'place' | 'restore' | 'release';

type Op =
  | { kind: 'bind'; pod: PodState; action: ActionName }
  | { kind: 'evict'; pod: PodState; at: number; action: ActionName; reason: string };

/** A position in the statement to roll back to. */
export type Checkpoint = number;

/** The tentative changes of one cycle. */
export class Statement {
  readonly #session: Session;
  readonly #ops: Op[] = [];

  constructor(session: Session) {
    this.#session = session;
  }

  /** Mark the current state; `rollback(mark)` returns to it. */
  checkpoint(): Checkpoint {
    return this.#ops.length;
  }

  /** Undo every change made since `mark`, newest first. */
  rollback(mark: Checkpoint): void {
    while (this.#ops.length > mark) {
      const op = this.#ops.pop();
      if (!op) break;
      if (op.kind === 'bind') this.#unbind(op.pod);
      else this.#unevict(op.pod, op.at);
    }
  }

  /** Bind a new pod of `group` to `node` with the chosen GPUs. */
  bind(group: GroupState, node: NodeState, gpus: readonly GpuTake[], action: ActionName): PodState {
    const grants = takesToGrants(node, gpus, (gpu, take) => memoryLimitOf(group, gpu, take));
    // Placed first, so a placement that would over-commit throws before the group changes.
    applyPlacement(node, gpus, group.req);
    const name = `${group.snap.name}-${group.nextOrdinal++}`;
    const pod: PodState = {
      name,
      group,
      node: node.name,
      pool: node.pool,
      grants,
      boundAtMs: this.#session.nowMs,
      resources: grantResources(grants, group.req),
    };
    this.#apply(pod, 'place');
    group.pods.push(pod);
    this.#ops.push({ kind: 'bind', pod, action });
    return pod;
  }

  /** Evict a pod, freeing what it holds. */
  evict(pod: PodState, action: ActionName, reason: string): void {
    const at = pod.group.pods.indexOf(pod);
    if (at < 0) return;
    pod.group.pods.splice(at, 1);
    this.#apply(pod, 'release');
    this.#ops.push({ kind: 'evict', pod, at, action, reason });
  }

  /** Groups that lost a pod since `mark`, each once, in eviction order. */
  evictedSince(mark: Checkpoint): GroupState[] {
    const out = new Set<GroupState>();
    for (const op of this.#ops.slice(mark)) if (op.kind === 'evict') out.add(op.pod.group);
    return [...out];
  }

  /** Number of changes so far (used to tell whether an action did anything). */
  get size(): number {
    return this.#ops.length;
  }

  /** Fold the surviving changes into binds and evictions; a pod bound and evicted in one cycle vanishes. */
  commit(): { binds: Bind[]; evictions: Eviction[] } {
    const boundNow = new Set<PodState>();
    const evictedNow = new Map<PodState, Extract<Op, { kind: 'evict' }>>();
    const bindOps = new Map<PodState, Extract<Op, { kind: 'bind' }>>();
    for (const op of this.#ops) {
      if (op.kind === 'bind') {
        boundNow.add(op.pod);
        bindOps.set(op.pod, op);
      } else if (boundNow.has(op.pod)) {
        boundNow.delete(op.pod);
        bindOps.delete(op.pod);
      } else {
        evictedNow.set(op.pod, op);
      }
    }
    const binds: Bind[] = [];
    for (const [pod, op] of bindOps) {
      binds.push({
        group: pod.group.snap.id,
        pod: pod.name,
        node: pod.node,
        grants: pod.grants,
        action: op.action,
      });
    }
    const evictions: Eviction[] = [];
    for (const [pod, op] of evictedNow) {
      evictions.push({
        group: pod.group.snap.id,
        pod: pod.name,
        node: pod.node,
        action: op.action,
        reason: op.reason,
      });
    }
    return { binds, evictions };
  }

  #unbind(pod: PodState): void {
    const at = pod.group.pods.indexOf(pod);
    if (at >= 0) pod.group.pods.splice(at, 1);
    this.#apply(pod, 'release');
    // Pod names are handed out in order; give the ordinal back so a retry names pods the same.
    if (pod.name === `${pod.group.snap.name}-${pod.group.nextOrdinal - 1}`) pod.group.nextOrdinal--;
  }

  #unevict(pod: PodState, at: number): void {
    pod.group.pods.splice(at, 0, pod);
    // Its eviction never happened: it runs on, holding what it held (even on a node that came back
    // smaller), so it is charged as the snapshot charged it, not placed again.
    this.#apply(pod, 'restore');
  }

  /**
   * Move a pod's resources onto or off its node and its queues' accounting. A new placement was
   * already taken from the node by `bind`, so 'place' leaves the node's books alone.
   */
  #apply(pod: PodState, write: NodeWrite): void {
    const s = this.#session;
    const sign = write === 'release' ? -1 : 1;
    indexPod(s.podsByNode, pod, sign > 0);
    const node = s.nodes.get(pod.node);
    if (node) {
      if (write === 'release') releaseGrants(node, pod.grants, pod.group.req);
      else if (write === 'restore') chargeGrants(node, pod.grants, pod.group.req);
      s.placer.update(node);
    }
    const r: Resources = {
      gpuMilli: sign * pod.resources.gpuMilli,
      cpuMillis: sign * pod.resources.cpuMillis,
      memoryMiB: sign * pod.resources.memoryMiB,
    };
    chargeQueues(s.queues, s.allocated, pod.group.snap.queue, pod.pool, r);
    if (!pod.group.snap.preemptible)
      chargeQueues(s.queues, s.allocatedNonPreemptible, pod.group.snap.queue, pod.pool, r);
    syncShares(s, pod.group.snap.queue, pod.pool);
  }
}

/** A grant's memory limit: the request, or a dynamic fraction's limit, fixed once the GPU is known. */
function memoryLimitOf(group: GroupState, gpu: GpuState, take: GpuTake): number {
  const gpuReq = group.snap.request.gpu;
  if (gpuReq.kind !== 'fraction' && gpuReq.kind !== 'memory') return take.memoryMiB;
  // The limit may be given in either unit.
  let limitMiB = take.memoryMiB;
  if (gpuReq.limitMiB !== undefined) limitMiB = gpuReq.limitMiB;
  else if (gpuReq.limitMilli !== undefined) limitMiB = fractionToMemoryMiB(gpuReq.limitMilli, gpu.memoryMiB);
  return Math.min(Math.max(limitMiB, take.memoryMiB), gpu.memoryMiB);
}
