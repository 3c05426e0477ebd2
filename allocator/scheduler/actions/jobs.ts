/**
 * The pending-job queue the allocation-like actions walk: projects in fair-share order, and inside a
 * project by priority then age.
 */
import { compareQueuesAcrossPools } from '../queue-order.ts';
import { type GroupState, gangNeed, type Session } from '../session.ts';

/** Priority first, then the older workload, then id: the order inside one project. */
export function compareJobs(a: GroupState, b: GroupState): number {
  if (a.snap.priority !== b.snap.priority) return b.snap.priority - a.snap.priority;
  if (a.snap.createdAtMs !== b.snap.createdAtMs) return a.snap.createdAtMs - b.snap.createdAtMs;
  return a.snap.id < b.snap.id ? -1 : a.snap.id > b.snap.id ? 1 : 0;
}

/**
 * The pools a pending job may use, in preference order. A gang that lost members is completed in
 * the pool its running pods are in, never another: quota and fair share are per pool, and a gang
 * spread over two pools is evicted whole by a victim search in either (taking the other pool's
 * share with it). Where that pool is no longer among its choices, stale-gang resolves it.
 */
export function poolsOf(job: GroupState): readonly string[] {
  const running = job.pods[0]?.pool;
  if (running === undefined) return job.snap.nodePools;
  return job.snap.nodePools.includes(running) ? [running] : [];
}

/**
 * Visit pending gangs one at a time, always from the project that fair share says goes next.
 * The order is re-evaluated after every visit because each placement changes the shares.
 * A visit that returns 'stop' ends the walk (actions with a per-cycle budget).
 */
export function forEachPendingJob(
  session: Session,
  visit: (job: GroupState) => unknown,
  filter: (job: GroupState) => boolean = () => true,
): void {
  const byQueue = new Map<string, GroupState[]>();
  for (const g of session.groups) {
    if (gangNeed(g) === 0 || g.snap.unreachable === true || !filter(g)) continue;
    const list = byQueue.get(g.snap.queue) ?? [];
    list.push(g);
    byQueue.set(g.snap.queue, list);
  }
  for (const list of byQueue.values()) list.sort(compareJobs);
  const heads = new Map<string, number>([...byQueue.keys()].map((q) => [q, 0]));
  // Each project is judged in the first pool its head job prefers; two heads preferring different
  // pools compare each by its own pool's standing, so the pick does not depend on which is asked first.
  const headPool = (queue: string): string =>
    byQueue.get(queue)?.[heads.get(queue) ?? 0]?.snap.nodePools[0] ?? 'default';
  while (heads.size > 0) {
    let best: string | undefined;
    for (const queue of heads.keys()) {
      if (best === undefined) {
        best = queue;
        continue;
      }
      const order = compareQueuesAcrossPools(
        queue,
        headPool(queue),
        best,
        headPool(best),
        session.shares,
        session.queues,
      );
      if (order < 0) best = queue;
    }
    if (best === undefined) break;
    const list = byQueue.get(best) ?? [];
    const at = heads.get(best) ?? 0;
    const job = list[at];
    if (at + 1 >= list.length) heads.delete(best);
    else heads.set(best, at + 1);
    if (job && gangNeed(job) > 0 && visit(job) === 'stop') return;
  }
}
