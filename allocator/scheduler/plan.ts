/** The scheduler's output: what to start, what to stop, and why anything still waits. */
import type { QueueShare } from './fairshare.ts';
import type { GpuGrant } from './snapshot.ts';

/** Names of the actions, in the order a cycle runs them. */
export type ActionName = 'allocate' | 'consolidate' | 'reclaim' | 'preempt' | 'elastic' | 'stale-gang';

/** Start a pod on a node with these GPUs. */
export interface Bind {
  group: string;
  pod: string;
  node: string;
  grants: GpuGrant[];
  action: ActionName;
}

/** Stop a pod; its group goes back to Pending unless only elastic extras were taken. */
export interface Eviction {
  group: string;
  pod: string;
  node: string;
  action: ActionName;
  reason: string;
}

/**
 * A workload phase the scheduler decided (a whole gang evicted -> Pending): only the target, since the
 * store checks it against the lifecycle's table (common/phases.ts PhaseChange) when it applies the plan.
 */
export interface PlannedPhaseChange {
  group: string;
  to: 'Pending';
  reason: string;
}

/** Why a workload is still pending, in words a user can act on. */
export interface PendingReason {
  group: string;
  reason: string;
}

/** The outcome of one cycle. */
export interface Plan {
  binds: Bind[];
  evictions: Eviction[];
  phaseChanges: PlannedPhaseChange[];
  pending: PendingReason[];
  /**
   * Each queue's standing per pool (queue -> pool -> share) after the plan: fair shares as the
   * cycle computed them at its start, allocation with its binds and evictions applied. Information
   * only (the console and metrics read it); runCycle always sets it, hand-made plans may leave it out.
   */
  shares?: ReadonlyMap<string, ReadonlyMap<string, QueueShare>>;
}

/** True when the plan changes nothing in the cluster (pending reasons are information only). */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.binds.length === 0 && plan.evictions.length === 0;
}
