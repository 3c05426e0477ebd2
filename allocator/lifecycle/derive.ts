/**
 * A workload's phase from its pods (docs/architecture.md §2, "Phases"). Pure: the store's
 * pods in, the phase the workload should be in (or null: stay) out. Only the phases pod reports
 * drive are derived here; Pending, Stopped and Deleting are entered by the scheduler and the user.
 */
import { type PodPhase, SCHEDULED_POD_PHASES, type WorkloadPhase } from '../../common/phases.ts';

/** A phase a workload should move to, with the event's reason and message. */
export interface DerivedPhase {
  to: WorkloadPhase;
  reason: string;
  message: string;
}

/** The part of a pod the derivation reads. */
export interface PodFacts {
  name: string;
  phase: PodPhase;
  exitCode: number | null;
  /** Why it ended, as its node said (`ImagePullFailed: ...`, `OOMKilled`); absent or null: unknown. */
  reason?: string | null;
  /** When it was bound to its node; absent or null: not known (it stands in for no failed pod). */
  boundMs?: number | null;
}

/**
 * The reasons a failed pod passes on to its workload as they are, because a user acts on each
 * differently (fix the image or its secret; raise the memory limit); anything else is `PodFailed`.
 */
const PASSED_ON_REASONS = ['ImagePullFailed', 'OOMKilled'] as const;

/** `: <reason>` when the pod's reason says more than its exit code does. */
function reasonSuffix(p: PodFacts): string {
  const r = p.reason ?? '';
  return r === '' || r === `exited with code ${p.exitCode ?? 'unknown'}` ? '' : `: ${r}`;
}

/** How a failed pod is named in its workload's events: `pod X failed with exit code 1: OOMKilled`. */
export function podFailureText(p: PodFacts): string {
  return `pod ${p.name} failed${p.exitCode === null ? '' : ` with exit code ${p.exitCode}`}${reasonSuffix(p)}`;
}

/** The workload's reason for a failed pod: its own word where it is one of PASSED_ON_REASONS. */
export function failureReason(pod: Pick<PodFacts, 'reason'>): string {
  const r = pod.reason ?? '';
  return PASSED_ON_REASONS.find((code) => r === code || r.startsWith(`${code}:`)) ?? 'PodFailed';
}

/**
 * The failed pods no later pod has taken the place of. The scheduler refills an elastic workload
 * (an inference's replicas) with new pods; a failed pod whose place a Running pod bound after it
 * took no longer degrades the workload (else one killed replica kept it Degraded for good, beside
 * as many ready replicas as it wants). Each such Running pod stands in for one failed pod; pods
 * bound together (a gang, the first replicas) never stand in for each other.
 */
function unreplacedFailures(pods: readonly PodFacts[]): PodFacts[] {
  const boundAt = (p: PodFacts): number => p.boundMs ?? Number.POSITIVE_INFINITY;
  const failed = pods.filter((p) => p.phase === 'Failed').sort((a, b) => boundAt(b) - boundAt(a));
  const later = pods
    .filter((p) => p.phase === 'Running' && p.boundMs !== undefined && p.boundMs !== null)
    .map(boundAt)
    .sort((a, b) => a - b);
  return failed.filter((f) => {
    // Latest failure first, each taking the earliest Running pod bound after it.
    const i = later.findIndex((t) => t > boundAt(f));
    if (i < 0) return true;
    later.splice(i, 1);
    return false;
  });
}

/** Workload phases whose next phase follows from pod reports. */
export const REPORT_DRIVEN_PHASES: readonly WorkloadPhase[] = ['Initializing', 'Running', 'Degraded'];

/**
 * The phase a workload in `phase` with `pods` should have, given `required` pods (its minReplicas)
 * for it to count as running; null when it should stay where it is.
 */
export function derivePhase(
  phase: WorkloadPhase,
  required: number,
  pods: readonly PodFacts[],
): DerivedPhase | null {
  if (!REPORT_DRIVEN_PHASES.includes(phase)) return null;
  const live = pods.filter((p) => SCHEDULED_POD_PHASES.includes(p.phase));
  const running = pods.filter((p) => p.phase === 'Running').length;
  const succeeded = pods.filter((p) => p.phase === 'Succeeded').length;
  const failed = unreplacedFailures(pods);
  const firstFailed = failed[0];
  const failedWhy = firstFailed === undefined ? '' : podFailureText(firstFailed);
  const failedReason = firstFailed === undefined ? 'PodFailed' : failureReason(firstFailed);
  const target = ((): DerivedPhase | null => {
    if (live.length === 0) {
      if (firstFailed !== undefined) return { to: 'Failed', reason: failedReason, message: failedWhy };
      if (succeeded > 0)
        return { to: 'Completed', reason: 'Succeeded', message: `${succeeded} pod(s) exited with code 0` };
      // Nothing placed and nothing ended: the node-lost and preemption paths requeue it, not this.
      return null;
    }
    // A pod failing while others run degrades the workload; it fails once nothing runs any more.
    if (firstFailed !== undefined) return { to: 'Degraded', reason: failedReason, message: failedWhy };
    const unknown = pods.filter((p) => p.phase === 'Unknown').map((p) => p.name);
    if (unknown.length > 0)
      return {
        to: 'Degraded',
        reason: 'NodeUnreachable',
        message: `pod(s) ${unknown.join(', ')} on a node that missed its lease: kept running there (disconnect policy keep), not replaced, until the node reports again or an admin deletes it with --force`,
      };
    // Pods that finished their part count as done, not as missing (a worker of a distributed job).
    if (running + succeeded >= required)
      return { to: 'Running', reason: 'PodsReady', message: `${running} pod(s) running` };
    if (phase === 'Initializing') return null;
    return {
      to: 'Degraded',
      reason: 'PodsNotReady',
      message: `${running + succeeded} of ${required} required pod(s) running`,
    };
  })();
  return target === null || target.to === phase ? null : target;
}
