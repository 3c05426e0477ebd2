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
import type { Checkpoint, Statement } from '../statement.ts';

/** Pods that leave together: one elastic extra, or a whole gang. */
export interface VictimUnit {
  group: GroupState;
  pods: PodState[];
  shrink: boolean;
}

/** How one action picks its victims. */
export interface VictimRule {
  action: ActionName;
  /** May this group's pods ever make room for the job (fixed for one try: queue, priority, preemptible). */
  eligible(group: GroupState): boolean;
  /**
   * Optional shortcut: the nodes holding a pod of a group `eligible` admits (any superset will do).
   * The search then tries only these, instead of building victim units on every node of the pool
   * for every shape every action tries; an empty set ends it at once. Asked before each search,
   * on the live state; absent = every node of the pool.
   */
  candidateNodes?(pool: string): ReadonlySet<string>;
  /** May this unit go now, given what has been evicted so far (live: fair shares). */
  allow(unit: VictimUnit): boolean;
  /** The reason recorded on the victim's eviction. */
  reason(unit: VictimUnit): string;
}

function isProtected(session: Session, pod: PodState): boolean {
  return pod.group.snap.unreachable === true || session.nowMs - pod.boundAtMs < pod.group.snap.minRuntimeMs;
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

/** The session's groups by project, in session order: who could lose pods to a project's jobs. */
export function groupsByQueue(session: Session): Map<string, GroupState[]> {
  const out = new Map<string, GroupState[]>();
  for (const g of session.groups) {
    const list = out.get(g.snap.queue);
    if (list) list.push(g);
    else out.set(g.snap.queue, [g]);
  }
  return out;
}

/** Adds the nodes of the group's pods in `pool` to `into`. */
export function addPodNodes(group: GroupState, pool: string, into: Set<string>): void {
  for (const p of group.pods) if (p.pool === pool) into.add(p.node);
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
  /** Bind time of the oldest unit in the set (a unit's age is its youngest pod's, as in compareUnits). */
  oldestBoundAtMs: number;
}

/**
 * True when evicting `a` is preferred to evicting `b`. Victims go lowest priority first, then
 * youngest (docs/architecture.md §3), so the set whose highest priority is lowest wins before the
 * set that is merely smaller: taking one build-preemptible pod where two training pods would do
 * makes it preempt those two next cycle anyway. Equal sets then go by fewer victims, then by the
 * younger work.
 */
function betterChoice(a: NodeChoice, b: NodeChoice): boolean {
  if (a.worstPriority !== b.worstPriority) return a.worstPriority < b.worstPriority;
  if (a.units.length !== b.units.length) return a.units.length < b.units.length;
  return a.oldestBoundAtMs > b.oldestBoundAtMs;
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
  const start = stmt.checkpoint();
  const used: VictimUnit[] = [];
  for (const unit of unitsOnNode(session, node.name, rule)) {
    if (unit.group === job || !rule.allow(unit)) continue;
    if (!evictUnit(stmt, unit, rule)) continue;
    used.push(unit);
    const gpus = session.placer.placeOn(node, job.req, strategy);
    if (gpus)
      return used.length === 1 ? { units: used, gpus } : prune(session, stmt, job, node, rule, start, used);
  }
  return null;
}

/**
 * Greedy eviction stops at the first fit, but units evicted on the way may add nothing to it: a
 * pod with no GPU ahead of the gang whose memory the job needs, a small unit ahead of the big one
 * that alone makes room. Such victims would lose their work for nothing (and a pod bound earlier
 * in the cycle would silently vanish from the plan). Give back every unit the job fits without,
 * trying the last evicted (highest priority, oldest) first, so that when there is a choice the
 * lowest-priority victims are the ones kept. The last unit is always needed: without it the
 * greedy prefix did not fit, and fewer evictions only leave less room.
 */
function prune(
  session: Session,
  stmt: Statement,
  job: GroupState,
  node: NodeState,
  rule: VictimRule,
  start: Checkpoint,
  used: VictimUnit[],
): { units: VictimUnit[]; gpus: GpuTake[] } | null {
  const strategy = strategyOf(session, node.pool);
  let keep = used;
  for (let i = keep.length - 2; i >= 0; i--) {
    const without = keep.filter((_, j) => j !== i);
    stmt.rollback(start);
    for (const unit of without) evictUnit(stmt, unit, rule);
    if (session.placer.placeOn(node, job.req, strategy)) keep = without;
  }
  stmt.rollback(start);
  for (const unit of keep) evictUnit(stmt, unit, rule);
  const gpus = session.placer.placeOn(node, job.req, strategy);
  return gpus ? { units: keep, gpus } : null;
}

/** The node whose victims (lowest priority, then fewest, then youngest) make room for one pod of the job. */
function bestNode(
  session: Session,
  stmt: Statement,
  job: GroupState,
  pool: string,
  rule: VictimRule,
): NodeChoice | null {
  // A node without an eligible pod yields no victim unit, so skipping it changes nothing.
  const candidates = rule.candidateNodes?.(pool);
  if (candidates?.size === 0) return null;
  let best: NodeChoice | null = null;
  for (const node of session.nodesByPool.get(pool) ?? []) {
    if (candidates && !candidates.has(node.name)) continue;
    if (!node.schedulable || (session.podsByNode.get(node.name)?.size ?? 0) === 0) continue;
    const mark = stmt.checkpoint();
    const found = tryNode(session, stmt, job, node, rule);
    stmt.rollback(mark);
    if (!found) continue;
    const worstPriority = Math.max(...found.units.map((u) => u.group.snap.priority));
    const oldestBoundAtMs = Math.min(...found.units.map((u) => Math.max(...u.pods.map((p) => p.boundAtMs))));
    const choice: NodeChoice = { node, units: found.units, worstPriority, oldestBoundAtMs };
    if (!best || betterChoice(choice, best)) best = choice;
  }
  return best;
}

/**
 * Place the job's missing gang pods in `pool`, evicting victims by `rule` where free capacity is not
 * enough. All or nothing: on failure every eviction and bind is rolled back. `quota` is true when room
 * was found but the job's quota refused it: that, not capacity, is then why the job waits.
 */
export function placeWithEvictions(
  session: Session,
  stmt: Statement,
  job: GroupState,
  pool: string,
  rule: VictimRule,
): { placed: boolean; reason: string; quota: boolean } {
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
        return { placed: false, reason: `no ${rule.action} victims make room in pool ${pool}`, quota: false };
      }
      node = choice.node;
      for (const unit of choice.units) evictUnit(stmt, unit, rule);
      gpus = session.placer.placeOn(node, job.req, strategy);
    }
    if (!gpus) {
      stmt.rollback(mark);
      return { placed: false, reason: `no ${rule.action} victims make room in pool ${pool}`, quota: false };
    }
    const gpuMilli = gpus.reduce((sum, g) => sum + g.gpuMilli, 0);
    const refusal = quotaRefusal(session, job, pool, {
      gpuMilli,
      cpuMillis: job.req.cpuMillis,
      memoryMiB: job.req.memoryMiB,
    });
    if (refusal) {
      stmt.rollback(mark);
      return { placed: false, reason: refusal, quota: true };
    }
    stmt.bind(job, node, gpus, rule.action);
  }
  return { placed: true, reason: '', quota: false };
}
