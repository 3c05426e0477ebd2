/**
 * preempt: inside one project, higher-priority work evicts strictly lower-priority preemptible
 * pods. Between projects fairness decides (reclaim); priority never crosses a project boundary.
 */
import type { GroupState, Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob, poolsOf } from './jobs.ts';
import type { Action } from './types.ts';
import { addPodNodes, groupsByQueue, placeWithEvictions } from './victims.ts';

/** The preempt action. */
export const preempt: Action = {
  name: 'preempt',
  run(session: Session, stmt: Statement): void {
    const failed = new Set<string>();
    const byQueue = groupsByQueue(session);
    forEachPendingJob(session, (job) => {
      const eligible = (g: GroupState) =>
        g.snap.queue === job.snap.queue && g.snap.preemptible && g.snap.priority < job.snap.priority;
      // Victims come from the job's own project only: look at its groups, not at every node of the pool.
      const own = byQueue.get(job.snap.queue) ?? [];
      const candidateNodes = (pool: string) => {
        const nodes = new Set<string>();
        for (const g of own) if (eligible(g)) addPodNodes(g, pool, nodes);
        return nodes;
      };
      for (const pool of poolsOf(job)) {
        const key = `${job.snap.queue}|${job.snap.priority}|${pool}|${job.snap.minMember}|${JSON.stringify(job.req)}`;
        if (failed.has(key)) continue;
        const outcome = placeWithEvictions(session, stmt, job, pool, {
          action: 'preempt',
          eligible,
          candidateNodes,
          allow: () => true,
          reason: (unit) =>
            `preempted by ${job.snap.name} (priority ${job.snap.priority} > ${unit.group.snap.priority}) in project ${job.snap.queue}`,
        });
        if (outcome.placed) {
          failed.clear();
          job.pendingReason = undefined;
          return;
        }
        // Allocate saw only a full cluster; with room made, the quota is what really stops the job.
        if (outcome.quota) job.pendingReason = outcome.reason;
        failed.add(key);
      }
    });
  },
};
