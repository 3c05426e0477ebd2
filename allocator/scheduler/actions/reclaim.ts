/**
 * reclaim: a project below its fair share takes back capacity from projects above theirs.
 *
 * Only preemptible pods are taken, a victim is never pushed below max(deserved, fairShare), and the
 * move must not leave the reclaimer more saturated than its victim: otherwise the victim would
 * reclaim it straight back next cycle, and the two would evict each other forever.
 */
import { addRes, formatGpuMilli, type Resources, subRes, zeroRes } from '../../../common/resources.ts';
import type { QueueShare } from '../fairshare.ts';
import { dominantShare } from '../queue-order.ts';
import type { GroupState, Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob, poolsOf } from './jobs.ts';
import type { Action } from './types.ts';
import {
  addPodNodes,
  groupsByQueue,
  placeWithEvictions,
  type VictimRule,
  type VictimUnit,
} from './victims.ts';

function shareOf(session: Session, queue: string, pool: string): QueueShare | undefined {
  return session.shares.get(queue)?.get(pool);
}

/** Resources a unit frees in one pool. */
function freedIn(unit: VictimUnit, pool: string): Resources {
  let out = zeroRes();
  for (const p of unit.pods) {
    if (p.pool !== pool || !unit.group.pods.includes(p)) continue;
    out = addRes(out, p.resources);
  }
  return out;
}

/**
 * True when a queue keeps at least max(deserved, fairShare) of every contended resource the unit
 * frees. GPU is always contended. CPU and memory count only where the queue's fair share is below
 * what it asks for: where a pool has plenty, every queue's fair share equals its request, so any
 * eviction at all would dip below it and reclaim could never take a GPU pod (which also holds CPU).
 */
function staysAtEntitlement(share: QueueShare, freed: Resources): boolean {
  const after = subRes(share.allocated, freed);
  for (const k of ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const) {
    if (freed[k] <= 0) continue;
    if (k !== 'gpuMilli' && share.fairShare[k] >= share.requestable[k]) continue;
    if (after[k] < Math.max(share.deserved[k], share.fairShare[k])) return false;
  }
  return true;
}

/** The queues whose standing a unit's eviction changes: its project, and its department when that differs from the reclaimer's. */
function victimChain(session: Session, job: GroupState, unit: VictimUnit): string[] {
  return chainOf(session, job, unit.group.snap.queue);
}

/** `victimChain` of any unit of project `queue`. */
function chainOf(session: Session, job: GroupState, queue: string): string[] {
  const chain = [queue];
  const victimDept = session.queues.get(queue)?.parent;
  const jobDept = session.queues.get(job.snap.queue)?.parent;
  if (victimDept && victimDept !== jobDept) chain.push(victimDept);
  return chain;
}

/**
 * True when the queue holds no more GPU than max(deserved, fairShare): `staysAtEntitlement` always
 * checks GPU, so it refuses every unit that frees any GPU of this queue.
 */
function hasNoGpuToGive(share: QueueShare): boolean {
  return share.allocated.gpuMilli <= Math.max(share.deserved.gpuMilli, share.fairShare.gpuMilli);
}

/** True when every pod of the group holds GPU, so any unit of it frees some. */
function holdsGpu(group: GroupState): boolean {
  for (const p of group.pods) if (p.resources.gpuMilli <= 0) return false;
  return true;
}

/** The groups with a pod that holds no GPU. */
function holdingNoGpu(session: Session): Set<GroupState> {
  const out = new Set<GroupState>();
  for (const g of session.groups) if (!holdsGpu(g)) out.add(g);
  return out;
}

/**
 * Projects whose GPU-holding units `allow` refuses for the whole try: a queue of their chain has no
 * share, or no GPU above its entitlement. Within one try these queues only ever lose resources (the
 * reclaimer's project and department are never in a victim chain) and entitlements are fixed for
 * the cycle, so the answer computed at the start of the try holds to its end. Lazily, once per project.
 */
function cannotGive(session: Session, job: GroupState, pool: string): (queue: string) => boolean {
  const known = new Map<string, boolean>();
  const jobDept = session.queues.get(job.snap.queue)?.parent;
  return (queue) => {
    let no = known.get(queue);
    if (no === undefined) {
      const chain = chainOf(session, job, queue);
      // A group filed directly under the reclaimer's department would gain with every bind of the try.
      no =
        (jobDept === undefined || jobDept === null || !chain.includes(jobDept)) &&
        chain.some((q) => {
          const share = shareOf(session, q, pool);
          return !share || hasNoGpuToGive(share);
        });
      known.set(queue, no);
    }
    return no;
  };
}

function reclaimRule(
  session: Session,
  job: GroupState,
  pool: string,
  byQueue: ReadonlyMap<string, readonly GroupState[]>,
  gpuLess: ReadonlySet<GroupState>,
): VictimRule {
  const givesNothing = cannotGive(session, job, pool);
  // Groups `allow` would refuse anyway are left out up front, so the per-node victim search (every
  // node of the pool, for every pending shape) does not build, sort and test units for them. A group
  // with a pod holding no GPU is kept: a unit freeing no GPU may still pass `allow`.
  const eligible = (g: GroupState) =>
    g.snap.queue !== job.snap.queue && g.snap.preemptible && !(givesNothing(g.snap.queue) && holdsGpu(g));
  return {
    action: 'reclaim',
    eligible,
    // Once allocate filled the pool most projects are at their entitlement: their pods are not
    // eligible, and the search visits only the nodes of those that are (often none).
    candidateNodes: (p) => {
      const nodes = new Set<string>();
      for (const [queue, groups] of byQueue) {
        if (queue === job.snap.queue || givesNothing(queue)) continue;
        for (const g of groups) if (g.pods.length > 0 && eligible(g)) addPodNodes(g, p, nodes);
      }
      // In a project that gives nothing only a group with a pod holding no GPU is eligible.
      for (const g of gpuLess) if (eligible(g)) addPodNodes(g, p, nodes);
      return nodes;
    },
    allow: (unit) => {
      // A gang evicted whole frees its pods in every pool it holds them in (a node relabelled into
      // another pool leaves one straddling two), and the victim keeps its entitlement in each.
      const pools = new Set(unit.pods.map((p) => p.pool));
      for (const p of pools) {
        const freed = freedIn(unit, p);
        for (const queue of victimChain(session, job, unit)) {
          const share = shareOf(session, queue, p);
          if (!share || !staysAtEntitlement(share, freed)) return false;
        }
      }
      return true;
    },
    reason: () => {
      const share = shareOf(session, job.snap.queue, pool);
      const fair = share ? formatGpuMilli(share.fairShare.gpuMilli) : '0';
      return `reclaimed by project ${job.snap.queue}, below its fair share of ${fair} GPUs in pool ${pool}`;
    },
  };
}

/**
 * After a reclaim the reclaimer must be no more saturated than any victim (docs/architecture.md §3), or the
 * victim would take it straight back. The reclaimer may end a little above its fair share: with
 * whole GPUs and fractional shares (1.33 GPUs each) insisting on "within" would block every reclaim.
 */
function settles(session: Session, job: GroupState, pool: string, victims: Set<string>): boolean {
  const mine = shareOf(session, job.snap.queue, pool);
  if (!mine) return false;
  const saturation = dominantShare(mine);
  for (const victim of victims) {
    const theirs = shareOf(session, victim, pool);
    if (theirs && saturation > dominantShare(theirs)) return false;
  }
  return true;
}

/** The reclaim action. */
export const reclaim: Action = {
  name: 'reclaim',
  run(session: Session, stmt: Statement): void {
    // A (project, pool, shape) that found no room finds none until some reclaim succeeds.
    const failed = new Set<string>();
    const byQueue = groupsByQueue(session);
    // Groups with a pod holding no GPU. Only a successful reclaim changes that for good (tries are
    // rolled back, and a try binds only the reclaimer's own pods), so it is found again after each.
    let gpuLess = holdingNoGpu(session);
    forEachPendingJob(session, (job) => {
      for (const pool of poolsOf(job)) {
        const share = shareOf(session, job.snap.queue, pool);
        if (!share || share.allocated.gpuMilli >= share.fairShare.gpuMilli) continue;
        const key = `${job.snap.queue}|${pool}|${job.snap.minMember}|${JSON.stringify(job.req)}`;
        if (failed.has(key)) continue;
        const mark = stmt.checkpoint();
        const outcome = placeWithEvictions(
          session,
          stmt,
          job,
          pool,
          reclaimRule(session, job, pool, byQueue, gpuLess),
        );
        const victims = new Set(stmt.evictedSince(mark).map((g) => g.snap.queue));
        if (outcome.placed && settles(session, job, pool, victims)) {
          failed.clear();
          gpuLess = holdingNoGpu(session);
          job.pendingReason = undefined;
          return;
        }
        stmt.rollback(mark);
        // Allocate saw only a full cluster; with room made, the quota is what really stops the job.
        if (outcome.quota) job.pendingReason = outcome.reason;
        failed.add(key);
      }
    });
  },
};
