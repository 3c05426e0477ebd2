/**
 * User stop and delete (docs/architecture.md §2): a Stopped or Deleting workload's live pods are stopped on
 * their nodes; a Deleting workload whose pods all ended is purged (its events stay). Runs each
 * scheduling cycle, so a stop or delete issued while the allocator was down still happens.
 */
import type { Result } from '../../common/errors.ts';
import type { PlannedStop } from '../store/apply-plan.ts';
import { type Db, inTransaction } from '../store/db.ts';
import { fail, guard, StoreError } from '../store/errors.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { changePhase, getWorkload, listWorkloads, purgeWorkload } from '../store/workloads.ts';
import { beginStop } from './pods.ts';

/** What a teardown pass did. */
export interface TeardownResult {
  stops: PlannedStop[];
  purged: string[];
}

/** Stops the live pods of Stopped and Deleting workloads and purges finished deletions. */
export function teardown(db: Db): TeardownResult {
  return inTransaction(db, (): TeardownResult => {
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
  });
}

/**
 * A user's `run` of a Stopped workload (any other phase is refused), in one transaction. Pods the
 * stop has not reached yet (the teardown runs with the next cycle) are stopped first: `run` right
 * after `stop` restarts the work.
 * Left running, they would make the workload Pending with its gang whole, which no cycle places and
 * no report moves, so it would wait for ever.
 */
export function runAgain(db: Db, id: string, nowMs: number): Result<void> {
  return guard(() =>
    inTransaction(db, (): void => {
      const w = getWorkload(db, id);
      if (w === undefined) fail('TESSERA_E_NOT_FOUND', `no workload with id ${id}`);
      // Only a stop is undone by run: a Pending move of placed work would leave its pods stranded.
      if (w.phase !== 'Stopped')
        fail(
          'TESSERA_E_ILLEGAL_TRANSITION',
          `workload ${w.name} is ${w.phase}: only a Stopped workload can be run again (tessera stop it first)`,
        );
      for (const p of listPods(db, { workload: id, phases: SCHEDULED_POD_PHASES }))
        beginStop(db, p, 'restarted by the user');
      const moved = changePhase(db, id, 'Pending', 'RunByUser', nowMs, 'queued again by the user');
      if (!moved.ok) throw new StoreError(moved.error);
    }),
  );
}
