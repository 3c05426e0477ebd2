/**
 * The one step every lifecycle change ends with: the workload moves to the phase its pods call for
 * (derive.ts). Shared by the report paths (reports.ts) and the restart path (restart.ts).
 */

import type { PlannedStop } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { getWorkload, moveWorkload, type WorkloadRecord } from '../store/workloads.ts';
import { derivePhase } from './derive.ts';
import { beginStop } from './pods.ts';

/** What a lifecycle step changed: stops to send, and whether anything was written. */
export interface LifecycleResult {
  stops: PlannedStop[];
  changed: boolean;
}

/** Moves the workload to the phase its pods call for, if any; `message` replaces the derived one. Callers hold a transaction. */
export function settle(db: Db, id: string, nowMs: number, message?: string): LifecycleResult {
  const w = getWorkload(db, id);
  if (w === undefined) return { stops: [], changed: false };
  const derived = derivePhase(w.phase, w.spec.minReplicas, listPods(db, { workload: id }));
  if (derived === null) return { stops: [], changed: false };
  const d = message === undefined ? derived : { ...derived, message };
  // Pods that finished before the workload was seen Running: it did run, and the table says so
  // (Initializing leads to Completed only through Running).
  if (w.phase === 'Initializing' && d.to === 'Completed')
    moveWorkload(db, id, 'Running', 'PodsReady', 'pods ran to completion before reporting ready', nowMs);
  // Failed and Completed are derived only once no pod is live, so nothing is left to stop.
  moveWorkload(db, id, d.to, d.reason, d.message, nowMs);
  return { stops: [], changed: true };
}

/**
 * After some of `w`'s pods were lost or evicted: it settles with the pods it has left when they are
 * at least its minimum; else those stop too (a gang runs whole or not at all) and it goes back to
 * Pending with `reason`. Callers hold a transaction.
 */
export function keepOrRequeue(
  db: Db,
  w: WorkloadRecord,
  reason: string,
  message: string,
  nowMs: number,
): LifecycleResult & { requeued: boolean } {
  const live = listPods(db, { workload: w.id, phases: SCHEDULED_POD_PHASES });
  if (live.length >= w.spec.minReplicas)
    return { ...settle(db, w.id, nowMs), changed: true, requeued: false };
  const stops: PlannedStop[] = [];
  for (const p of live) {
    const stop = beginStop(db, p, `${reason}: gang below its minimum`);
    if (stop !== null) stops.push(stop);
  }
  moveWorkload(db, w.id, 'Pending', reason, message, nowMs);
  return { stops, changed: true, requeued: true };
}
