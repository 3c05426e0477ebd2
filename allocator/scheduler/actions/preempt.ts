/**
 * preempt: inside one project, higher-priority work evicts strictly lower-priority preemptible
 * pods. Between projects fairness decides (reclaim); priority never crosses a project boundary.
 */
import type { Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob } from './jobs.ts';
import type { Action } from './types.ts';
import { placeWithEvictions } from './victims.ts';

/** The preempt action. */
export const preempt: Action = {
  name: 'preempt',
  run(session: Session, stmt: Statement): void {
    const failed = new Set<string>();
    forEachPendingJob(session, (job) => {
      for (const pool of job.snap.nodePools) {
        const key = `${job.snap.queue}|${job.snap.priority}|${pool}|${job.snap.minMember}|${JSON.stringify(job.req)}`;
        if (failed.has(key)) continue;
        const outcome = placeWithEvictions(session, stmt, job, pool, {
          action: 'preempt',
          eligible: (g) =>
            g.snap.queue === job.snap.queue && g.snap.preemptible && g.snap.priority < job.snap.priority,
          allow: () => true,
          reason: (unit) =>
            `preempted by ${job.snap.name} (priority ${job.snap.priority} > ${unit.group.snap.priority}) in project ${job.snap.queue}`,
        });
        if (outcome.placed) {
          failed.clear();
          job.pendingReason = undefined;
          return;
        }
        failed.add(key);
      }
    });
  },
};
