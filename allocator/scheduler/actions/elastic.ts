/**
 * elastic: grow elastic workloads (distributed, inference) above minReplicas into capacity that is
 * idle after every pending gang had its turn, and shrink those above their ceiling (an autoscaler
 * lowered it: store/snapshot.ts `memberRange`), youngest pod first. Shrinking for other work happens
 * in reclaim and preempt, which take elastic extras before evicting anyone (see victims.ts).
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
    shrinkToCeiling(session, stmt);
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

/** Evicts the youngest pods of every group holding more than its ceiling; an unreachable group keeps all. */
function shrinkToCeiling(session: Session, stmt: Statement): void {
  for (const g of session.groups) {
    const extra = g.pods.length - g.snap.maxMember;
    if (extra <= 0 || g.snap.unreachable === true) continue;
    const youngest = [...g.pods].sort((a, b) => b.boundAtMs - a.boundAtMs || b.name.localeCompare(a.name));
    for (const pod of youngest.slice(0, extra))
      stmt.evict(pod, 'elastic', `scaled down to ${g.snap.maxMember} replica(s) by its autoscaler`);
  }
}
