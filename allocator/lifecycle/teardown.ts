/**
 * User stop and delete (docs/architecture.md §2): a Stopped or Deleting workload's live pods are stopped on
 * their nodes; a Deleting workload whose pods all ended is purged (its events stay). Runs each
 * scheduling cycle, so a stop or delete issued while the allocator was down still happens.
 */
import type { StopPod } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { listWorkloads, purgeWorkload } from '../store/workloads.ts';
import { beginStop } from './pods.ts';

/** What a teardown pass did. */
export interface TeardownResult {
  stops: StopPod[];
  purged: string[];
}

/** Stops the live pods of Stopped and Deleting workloads and purges finished deletions. */
export function teardown(db: Db): TeardownResult {
  return db.transaction((): TeardownResult => {
    const out: TeardownResult = { stops: [], purged: [] };
    // A Stopped workload whose pods have all ended has nothing left to tear down: left out in SQL, so
    // the stopped work that piles up over time is never read (nor its spec parsed) by a cycle.
    const stopped = listWorkloads(db, { phases: ['Stopped'], withPodsIn: SCHEDULED_POD_PHASES });
    for (const w of [...stopped, ...listWorkloads(db, { phases: ['Deleting'] })]) {
      // A stop by a scheduling rule (MaxRuntimeExceeded, IdleGpuTimeout) says so to the node.
      const byRule = w.phaseReason === 'MaxRuntimeExceeded' || w.phaseReason === 'IdleGpuTimeout';
      const stopped = byRule ? `stopped by rule: ${w.phaseReason}` : 'stopped by the user';
      const why = w.phase === 'Stopped' ? stopped : 'workload deleted';
      for (const p of listPods(db, { workload: w.id, phases: SCHEDULED_POD_PHASES })) {
        const stop = beginStop(db, p, why);
        if (stop !== null) out.stops.push(stop);
      }
      // A Deleting workload with Stopping pods waits for their confirmation; purge refuses until then.
      if (w.phase === 'Deleting' && purgeWorkload(db, w.id).ok) out.purged.push(w.id);
    }
    return out;
  })();
}
