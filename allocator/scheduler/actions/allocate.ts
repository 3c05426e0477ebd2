/**
 * allocate: place pending gangs into free capacity, whole or not at all. Never evicts.
 *
 * A shape that found no room in a pool finds none later in the same action either (allocate only
 * takes capacity), so failures are remembered per pool and shape: this is what keeps a cycle with
 * tens of thousands of pending pods fast.
 */
import type { PlacementRequest } from '../placement/types.ts';
import { type GroupState, gangNeed, type Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob, poolsOf } from './jobs.ts';
import { capacityReason, placePods } from './place-pods.ts';
import type { Action } from './types.ts';

function shapeKey(pool: string, r: PlacementRequest): string {
  return `${pool}|${r.gpuCount}|${r.gpuMilli}|${r.gpuMemoryMiB}|${r.cpuMillis}|${r.memoryMiB}|${r.gpuModels.join(',')}|${r.nodeTypes.join(',')}|${r.needsContainer === true ? 'c' : ''}|${r.ports}`;
}

/** Try each preferred pool in order; true when the gang was placed whole in one of them. */
export function allocateJob(
  session: Session,
  stmt: Statement,
  job: GroupState,
  failed?: Map<string, { need: number; fitted: number; why: string }>,
): boolean {
  const need = gangNeed(job);
  const reasons: string[] = [];
  const pools = poolsOf(job);
  if (pools.length === 0) {
    job.pendingReason = `its running pods are in pool ${job.pods[0]?.pool}, which is not among its node pools; it is evicted whole once the stale-gang grace runs out`;
    return false;
  }
  for (const pool of pools) {
    const key = shapeKey(pool, job.req);
    const known = failed?.get(key);
    if (known && need >= known.need) {
      reasons.push(capacityReason(job, pool, need, Math.min(known.fitted, need - 1), known.why));
      continue;
    }
    const outcome = placePods(session, stmt, job, pool, need, 'allocate');
    if (outcome.placed) {
      job.pendingReason = undefined;
      return true;
    }
    // Quota refusals depend on the project, not the shape: only capacity failures are remembered.
    if (!outcome.quota && failed)
      failed.set(key, { need: outcome.fitted === 0 ? 1 : need, fitted: outcome.fitted, why: outcome.why });
    reasons.push(outcome.reason);
  }
  job.pendingReason = reasons.join('; then ');
  return false;
}

/** The allocate action. */
export const allocate: Action = {
  name: 'allocate',
  run(session: Session, stmt: Statement): void {
    const failed = new Map<string, { need: number; fitted: number; why: string }>();
    forEachPendingJob(session, (job) => {
      allocateJob(session, stmt, job, failed);
    });
  },
};
