/**
 * elastic: grow elastic workloads (distributed, inference) above minReplicas into capacity that is
 * idle after every pending gang had its turn. Shrinking happens in reclaim and preempt, which take
 * elastic extras before evicting anyone (see victims.ts).
 */
import { compareQueuesAcrossPools } from '../queue-order.ts';
import { type GroupState, gangNeed, type Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { compareJobs } from './jobs.ts';
import { placePods } from './place-pods.ts';
import type { Action } from './types.ts';

function wantsToGrow(g: GroupState): boolean {
  return (
    gangNeed(g) === 0 && g.snap.unreachable !== true && g.pods.length > 0 && g.pods.length < g.snap.maxMember
  );
}

/** The elastic action. */
export const elastic: Action = {
  name: 'elastic',
  run(session: Session, stmt: Statement): void {
    const growing = session.groups.filter(wantsToGrow);
    const pool = (g: GroupState) => g.pods[0]?.pool ?? g.snap.nodePools[0] ?? 'default';
    // One pod per workload per round, so idle capacity is shared instead of going to the first.
    let progress = true;
    while (progress) {
      progress = false;
      // Each workload is ranked in the pool it grows in; judging both sides in one side's pool would
      // make the comparator inconsistent, and Array.prototype.sort's result undefined.
      growing.sort(
        (a, b) =>
          compareQueuesAcrossPools(
            a.snap.queue,
            pool(a),
            b.snap.queue,
            pool(b),
            session.shares,
            session.queues,
          ) || compareJobs(a, b),
      );
      for (const g of growing) {
        if (!wantsToGrow(g)) continue;
        const outcome = placePods(session, stmt, g, pool(g), 1, 'elastic');
        if (outcome.placed) progress = true;
      }
    }
  },
};
