/**
 * Finished work costs a scheduling cycle nothing: Completed, Failed and Stopped workloads with no
 * live pods are left out in SQL, so their stored specs are never read. Each finished workload here
 * has a spec that cannot be parsed: any read of it throws, so a test passing proves it unread.
 */
import { expect, it } from 'vitest';
import { enforceSchedulingRules } from '../../../allocator/lifecycle/enforce-rules.ts';
import { teardown } from '../../../allocator/lifecycle/teardown.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listPods } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { changePhase, listWorkloads, submitWorkload } from '../../../allocator/store/workloads.ts';
import type { WorkloadPhase } from '../../../common/phases.ts';
import { bind, plan } from '../lifecycle/helpers.ts';
import { describeBackends, must, openTemp, smallOrg, T0, training } from './helpers.ts';

/** Stores workload `id` in `phase` with a spec no JSON parser accepts. */
function finished(db: Db, id: string, phase: WorkloadPhase): void {
  must(submitWorkload(db, training(id), T0, { id }));
  db.prepare("UPDATE workloads SET phase = ?, spec = '{unreadable' WHERE id = ?").run(phase, id);
}

/** smallOrg, a pending workload, a running one with a pod on n1, and finished ones with unreadable specs. */
function storeWithFinishedWork(): Db {
  const db = openTemp();
  smallOrg(db);
  must(submitWorkload(db, training('waiting'), T0, { id: 'waiting' }));
  must(submitWorkload(db, training('busy'), T0, { id: 'busy' }));
  applyPlan(db, plan({ binds: [bind('busy', 'busy-0', 'n1', 0)] }), T0 + 10);
  finished(db, 'done', 'Completed');
  finished(db, 'broke', 'Failed');
  finished(db, 'halted', 'Stopped');
  return db;
}

describeBackends('finished workloads in a cycle', () => {
  it('the snapshot holds only live workloads and never reads a finished one', () => {
    const db = storeWithFinishedWork();
    const s = buildSnapshot(db, T0 + 100);
    expect(s.groups.map((g) => g.id).sort()).toEqual(['busy', 'waiting']);
  });

  it('teardown and the scheduling rules never read a finished one', () => {
    const db = storeWithFinishedWork();
    expect(teardown(db)).toEqual({ stops: [], purged: [] });
    expect(enforceSchedulingRules(db, new Map(), T0 + 100)).toEqual([]);
  });

  it('a Stopped workload with a live pod is still torn down', () => {
    const db = storeWithFinishedWork();
    must(changePhase(db, 'busy', 'Stopped', 'StoppedByUser', T0 + 20));
    expect(teardown(db).stops).toEqual([expect.objectContaining({ workload: 'busy', pod: 'busy-0' })]);
    expect(listPods(db, { workload: 'busy' })[0]?.phase).toBe('Stopping');
  });

  it('listWorkloads filters phases and live pods in SQL', () => {
    const db = storeWithFinishedWork();
    expect(listWorkloads(db, { phases: ['Pending'] }).map((w) => w.id)).toEqual(['waiting']);
    expect(listWorkloads(db, { withPodsIn: ['Bound'] }).map((w) => w.id)).toEqual(['busy']);
  });
});
