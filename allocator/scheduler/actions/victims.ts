/**
 * Making room by eviction, shared by reclaim and preempt: which pods may go, in which order, and
 * the node where the fewest of them must go for a pod to fit.
 *
 * Victims go lowest priority first, then youngest. Elastic extras (pods above minReplicas) go
 * before any gang is touched, one pod at a time: an elastic workload shrinks before anyone is
 * evicted. Evicting any other gang member evicts the whole gang, because a gang below its
 * minimum makes no progress while still holding GPUs.
 */
import type { GpuTake, NodeState } from '../placement/types.ts';
import type { ActionName } from '../plan.ts';
import { quotaRefusal } from '../quota.ts';
import { type GroupState, gangNeed, type PodState, type Session, strategyOf } from '../session.ts';
import type { Statement } from '../statement.ts';

/** Pods that leave together: one elastic extra, or a whole gang. */
export interface VictimUnit {
  group: GroupState;
  pods: PodState[];
  shrink: boolean;
}

/** How one action picks its victims. */
export interface VictimRule {
  action: ActionName;
  /** May this group's pods ever make room for the job (static: queue, priority, preemptible). */
  eligible(group: GroupState): boolean;
  /** May this unit go now, given what has been evicted so far (live: fair shares). */
  allow(unit: VictimUnit): boolean;
  /** The reason recorded on the victim's eviction. */
  reason(unit: VictimUnit): string;
}

function isProtected(session: Session, pod: PodState): boolean {
  return session.nowMs - pod.boundAtMs < pod.group.snap.minRuntimeMs;
}

function compareUnits(a: VictimUnit, b: VictimUnit): number {
  if (a.shrink !== b.shrink) return a.shrink ? -1 : 1;
  if (a.group.snap.priority !== b.group.snap.priority) return a.group.snap.priority - b.group.snap.priority;
  const youngestA = Math.max(...a.pods.map((p) => p.boundAtMs));
  const youngestB = Math.max(...b.pods.map((p) => p.boundAtMs));
  if (youngestA !== youngestB) return youngestB - youngestA;
  if (a.group.snap.id !== b.group.snap.id) return a.group.snap.id < b.group.snap.id ? -1 : 1;
  return a.pods[0]?.name && b.pods[0]?.name && a.pods[0].name < b.pods[0].name ? -1 : 1;
}

/** Eviction units with pods on `node` that the rule admits, in eviction order. */
export function unitsOnNode(session: Session, node: string, rule: VictimRule): VictimUnit[] {
  const byGroup = new Map<GroupState, PodState[]>();
  for (const pod of session.podsByNode.get(node) ?? []) {
    if (!rule.eligible(pod.group)) continue;
    const list = byGroup.get(pod.group) ?? [];
    list.push(pod);
    byGroup.set(pod.group, list);
  }
  const units: VictimUnit[] = [];
  for (const [group, here] of byGroup) {
    const extras = group.pods.length - group.snap.minMember;
    if (extras > 0) {
      const candidates = here
        .filter((p) => !isProtected(session, p))
        .sort((a, b) => b.boundAtMs - a.boundAtMs);
      for (const pod of candidates.slice(0, extras)) units.push({ group, pods: [pod], shrink: true });
    }
    if (!group.pods.some((p) => isProtected(session, p)))
      units.push({ group, pods: [...group.pods], shrink: false });
  }
  return units.sort(compareUnits);
}

/** Evict what is left of a unit; false when the unit no longer applies (already gone, or no extras left). */
function evictUnit(stmt: Statement, unit: VictimUnit, rule: VictimRule): boolean {
  const present = unit.pods.filter((p) => unit.group.pods.includes(p));
  if (present.length === 0) return false;
  if (unit.shrink && unit.group.pods.length <= unit.group.snap.minMember) return false;
  const reason = rule.reason(unit);
  for (const pod of present) stmt.evict(pod, rule.action, reason);
  return true;
}

interface NodeChoice {
  node: NodeState;
  units: VictimUnit[];
  worstPriority: number;
}

/** Evict units on `node` in order until the job's pod fits; returns the units used, or null. */
function tryNode(
  session: Session,
  stmt: Statement,
  job: GroupState,
  node: NodeState,
  rule: VictimRule,
): { units: VictimUnit[]; gpus: GpuTake[] } | null {
  const strategy = strategyOf(session, node.pool);
  const used: VictimUnit[] = [];
  for (const unit of unitsOnNode(session, node.name, rule)) {
    if (unit.group === job || !rule.allow(unit)) continue;
    if (!evictUnit(stmt, unit, rule)) continue;
    used.push(unit);
    const gpus = session.placer.placeOn(node, job.req, strategy);
    if (gpus) return { units: used, gpus };
  }
  return null;
}

/** The node where the fewest (then lowest-priority) victims make room for one pod of the job. */
function bestNode(
  session: Session,
  stmt: Statement,
  job: GroupState,
  pool: string,
  rule: VictimRule,
): NodeChoice | null {
  let best: NodeChoice | null = null;
  for (const node of session.nodesByPool.get(pool) ?? []) {
    if (!node.schedulable || (session.podsByNode.get(node.name)?.size ?? 0) === 0) continue;
    const mark = stmt.checkpoint();
    const found = tryNode(session, stmt, job, node, rule);
    stmt.rollback(mark);
    if (!found) continue;
    const worstPriority = Math.max(...found.units.map((u) => u.group.snap.priority));
    if (
      !best ||
      found.units.length < best.units.length ||
      (found.units.length === best.units.length && worstPriority < best.worstPriority)
    ) {
      best = { node, units: found.units, worstPriority };
    }
  }
  return best;
}

/**
 * Place the job's missing gang pods in `pool`, evicting victims by `rule` where free capacity is not
 * enough. All or nothing: on failure every eviction and bind is rolled back.
 */
export function placeWithEvictions(
  session: Session,
  stmt: Statement,
  job: GroupState,
  pool: string,
  rule: VictimRule,
): { placed: boolean; reason: string } {
  const mark = stmt.checkpoint();
  const strategy = strategyOf(session, pool);
  const need = gangNeed(job);
  for (let i = 0; i < need; i++) {
    let node: NodeState | undefined;
    let gpus: GpuTake[] | null = null;
    const free = session.placer.place(pool, job.req, strategy);
    if (free) {
      node = free.node;
      gpus = free.gpus;
    } else {
      const choice = bestNode(session, stmt, job, pool, rule);
      if (!choice) {
        stmt.rollback(mark);
        return { placed: false, reason: `no ${rule.action} victims make room in pool ${pool}` };
      }
      node = choice.node;
      for (const unit of choice.units) evictUnit(stmt, unit, rule);
      gpus = session.placer.placeOn(node, job.req, strategy);
    }
    if (!gpus) {
      stmt.rollback(mark);
      return { placed: false, reason: `no ${rule.action} victims make room in pool ${pool}` };
    }
    const gpuMilli = gpus.reduce((sum, g) => sum + g.gpuMilli, 0);
    const refusal = quotaRefusal(session, job, pool, {
      gpuMilli,
      cpuMillis: job.req.cpuMillis,
      memoryMiB: job.req.memoryMiB,
    });
    if (refusal) {
      stmt.rollback(mark);
      return { placed: false, reason: refusal };
    }
    stmt.bind(job, node, gpus, rule.action);
  }
  return { placed: true, reason: '' };
}
