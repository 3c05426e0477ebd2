/**
 * reclaim: a project below its fair share takes back capacity from projects above theirs.
 *
 * Only preemptible pods are taken, a victim is never pushed below max(deserved, fairShare), and the
 * move must not leave the reclaimer more saturated than its victim: otherwise the victim would
 * reclaim it straight back next cycle, and the two would evict each other forever.
 */
import { formatGpuMilli, type Resources, subRes, zeroRes } from '../../../shared/resources.ts';
import type { QueueShare } from '../fairshare.ts';
import { dominantShare, isOverFairShare } from '../queue-order.ts';
import type { GroupState, Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import { forEachPendingJob } from './jobs.ts';
import type { Action } from './types.ts';
import { placeWithEvictions, type VictimRule, type VictimUnit } from './victims.ts';

function shareOf(session: Session, queue: string, pool: string): QueueShare | undefined {
  return session.shares.get(queue)?.get(pool);
}

/** Resources a unit frees in one pool. */
function freedIn(unit: VictimUnit, pool: string): Resources {
  let out = zeroRes();
  for (const p of unit.pods) {
    if (p.pool !== pool || !unit.group.pods.includes(p)) continue;
    out = {
      gpuMilli: out.gpuMilli + p.resources.gpuMilli,
      cpuMillis: out.cpuMillis + p.resources.cpuMillis,
      memoryMiB: out.memoryMiB + p.resources.memoryMiB,
    };
  }
  return out;
}

/** True when a queue keeps at least max(deserved, fairShare) of every resource the unit frees. */
function staysAtEntitlement(share: QueueShare, freed: Resources): boolean {
  const after = subRes(share.allocated, freed);
  for (const k of ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const) {
    if (freed[k] <= 0) continue;
    if (after[k] < Math.max(share.deserved[k], share.fairShare[k])) return false;
  }
  return true;
}

/** The queues whose standing a unit's eviction changes: its project, and its department when that differs from the reclaimer's. */
function victimChain(session: Session, job: GroupState, unit: VictimUnit): string[] {
  const chain = [unit.group.snap.queue];
  const victimDept = session.queues.get(unit.group.snap.queue)?.parent;
  const jobDept = session.queues.get(job.snap.queue)?.parent;
  if (victimDept && victimDept !== jobDept) chain.push(victimDept);
  return chain;
}

function reclaimRule(session: Session, job: GroupState, pool: string): VictimRule {
  return {
    action: 'reclaim',
    eligible: (g) => g.snap.queue !== job.snap.queue && g.snap.preemptible,
    allow: (unit) => {
      const freed = freedIn(unit, pool);
      for (const queue of victimChain(session, job, unit)) {
        const share = shareOf(session, queue, pool);
        if (!share || !staysAtEntitlement(share, freed)) return false;
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

/** After a reclaim: the reclaimer within its fair share and no more saturated than any victim. */
function settles(session: Session, job: GroupState, pool: string, victims: Set<string>): boolean {
  const mine = shareOf(session, job.snap.queue, pool);
  if (!mine || isOverFairShare(mine, zeroRes())) return false;
  const dept = session.queues.get(job.snap.queue)?.parent;
  const deptShare = dept ? shareOf(session, dept, pool) : undefined;
  if (deptShare && isOverFairShare(deptShare, zeroRes())) return false;
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
    forEachPendingJob(session, (job) => {
      for (const pool of job.snap.nodePools) {
        const share = shareOf(session, job.snap.queue, pool);
        if (!share || share.allocated.gpuMilli >= share.fairShare.gpuMilli) continue;
        const key = `${job.snap.queue}|${pool}|${job.snap.minMember}|${JSON.stringify(job.req)}`;
        if (failed.has(key)) continue;
        const mark = stmt.checkpoint();
        const outcome = placeWithEvictions(session, stmt, job, pool, reclaimRule(session, job, pool));
        const victims = new Set(stmt.evictedSince(mark).map((g) => g.snap.queue));
        if (outcome.placed && settles(session, job, pool, victims)) {
          failed.clear();
          job.pendingReason = undefined;
          return;
        }
        stmt.rollback(mark);
        failed.add(key);
      }
    });
  },
};
