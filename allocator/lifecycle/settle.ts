/**
 * The one step every lifecycle change ends with: the workload moves to the phase its pods call for
 * (derive.ts). Shared by the report paths (reports.ts) and the restart path (restart.ts).
 */

import type { PlannedStop } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { listPods } from '../store/pods.ts';
import { getWorkload, moveWorkload } from '../store/workloads.ts';
import { derivePhase } from './derive.ts';

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
