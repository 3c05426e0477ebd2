/**
 * consolidate: in bin-pack pools, move preemptible pods between nodes so that a pending gang fits
 * where free capacity is scattered. A move happens only if every moved pod is placed again and the
 * whole gang then fits; otherwise nothing moves.
 *
 * Only single-pod workloads move: moving one member of a gang would stop the whole gang. Work is
 * bounded per cycle, because every try re-places pods through the placer.
 */
import type { NodeState } from '../placement/types.ts';
import { quotaRefusal } from '../quota.ts';
import { type GroupState, gangNeed, type PodState, type Session, strategyOf } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob, poolsOf } from './jobs.ts';
import { placePods } from './place-pods.ts';
import type { Action } from './types.ts';

/** Pending gangs tried per cycle; each try may scan every node of a pool. */
export const CONSOLIDATE_MAX_JOBS = 32;

function movable(session: Session, pod: PodState, job: GroupState): boolean {
  const g = pod.group;
  return (
    g !== job &&
    g.snap.unreachable !== true &&
    g.snap.preemptible &&
    g.snap.minMember === 1 &&
    g.snap.maxMember === 1 &&
    session.nowMs - pod.boundAtMs >= g.snap.minRuntimeMs
  );
}

/** Make room on `node` for one pod of `job` by moving pods elsewhere; true when bound. */
function moveToFit(session: Session, stmt: Statement, job: GroupState, node: NodeState): boolean {
  const strategy = strategyOf(session, node.pool);
  const candidates = [...(session.podsByNode.get(node.name) ?? [])]
    .filter((p) => movable(session, p, job))
    .sort((a, b) => a.resources.gpuMilli - b.resources.gpuMilli || (a.name < b.name ? -1 : 1));
  if (candidates.length === 0) return false;
  const moved: PodState[] = [];
  let gpus = null;
  for (const pod of candidates) {
    stmt.evict(pod, 'consolidate', `moved off ${node.name} to make room for ${job.snap.name}`);
    moved.push(pod);
    gpus = session.placer.placeOn(node, job.req, strategy);
    if (gpus) break;
  }
  if (!gpus) return false;
  const gpuMilli = gpus.reduce((sum, g) => sum + g.gpuMilli, 0);
  if (
    quotaRefusal(session, job, node.pool, {
      gpuMilli,
      cpuMillis: job.req.cpuMillis,
      memoryMiB: job.req.memoryMiB,
    })
  ) {
    return false;
  }
  stmt.bind(job, node, gpus, 'consolidate');
  for (const pod of moved) {
    const target = session.placer.place(pod.pool, pod.group.req, strategyOf(session, pod.pool));
    if (!target) return false;
    // The job's quota was checked with the moved pods off the books; once they are back, a mover
    // of the same project or department (or a memory-sized share landing on a smaller GPU) may
    // push it past a limit.
    const moverMilli = target.gpus.reduce((sum, g) => sum + g.gpuMilli, 0);
    const r = {
      gpuMilli: moverMilli,
      cpuMillis: pod.group.req.cpuMillis,
      memoryMiB: pod.group.req.memoryMiB,
    };
    if (quotaRefusal(session, pod.group, pod.pool, r)) return false;
    stmt.bind(pod.group, target.node, target.gpus, 'consolidate');
  }
  return true;
}

/** Try the pool's nodes in name order until moves make room on one of them. */
function moveAnywhere(session: Session, stmt: Statement, job: GroupState, pool: string): boolean {
  for (const node of session.nodesByPool.get(pool) ?? []) {
    if (!node.schedulable) continue;
    const nodeMark = stmt.checkpoint();
    if (moveToFit(session, stmt, job, node)) return true;
    stmt.rollback(nodeMark);
  }
  return false;
}

/** The consolidate action. */
export const consolidate: Action = {
  name: 'consolidate',
  run(session: Session, stmt: Statement): void {
    let tried = 0;
    // A shape that moves could not fit stays unfit for this cycle unless some move succeeded.
    const failed = new Set<string>();
    forEachPendingJob(session, (job) => {
      if (tried >= CONSOLIDATE_MAX_JOBS) return 'stop';
      tried++;
      for (const pool of poolsOf(job)) {
        if (strategyOf(session, pool) !== 'binpack') continue;
        const key = `${pool}|${job.snap.minMember}|${JSON.stringify(job.req)}`;
        if (failed.has(key)) continue;
        const mark = stmt.checkpoint();
        let ok = true;
        while (ok && gangNeed(job) > 0) {
          const free = placePods(session, stmt, job, pool, 1, 'consolidate');
          if (free.placed) continue;
          // Quota, not fragmentation, blocks it: moving pods would not help.
          if (free.quota) ok = false;
          else ok = moveAnywhere(session, stmt, job, pool);
        }
        if (ok && gangNeed(job) === 0) {
          job.pendingReason = undefined;
          failed.clear();
          return;
        }
        stmt.rollback(mark);
        failed.add(key);
      }
    });
  },
};
