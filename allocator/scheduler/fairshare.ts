/**
 * Fair share: how much of each node pool every department and project should hold right now
 * (docs/architecture.md §3, "Fair share").
 *
 * Pure and deterministic: the same input gives the same shares, with no clock and no I/O. Each pool
 * and each resource (gpuMilli, cpuMillis, memoryMiB) is split independently, top-down: the pool's
 * capacity among the root queues (departments), then each department's fair share among its
 * projects. All arithmetic is in integer units so that shares add up exactly.
 */
import type { Resources } from '../../common/resources.ts';
import type { QueueSnap } from './snapshot.ts';
import { UNLIMITED } from './snapshot.ts';

/** Everything the fair-share split needs; the scheduler derives it from the snapshot. */
export interface FairShareInput {
  pools: readonly string[];
  /** Total schedulable capacity of each pool. */
  capacity: ReadonlyMap<string, Resources>;
  /** Departments (parent null) and projects (parent = department). */
  queues: readonly QueueSnap[];
  /** Per project, per pool: resources its pods hold now. */
  allocated: ReadonlyMap<string, ReadonlyMap<string, Resources>>;
  /** Per project, per pool: resources its pending pods ask for. */
  pending: ReadonlyMap<string, ReadonlyMap<string, Resources>>;
  /** Optional decayed historical usage per queue per pool (GPU milli-hours) and its strength. */
  usage?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** How strongly past usage bends over-quota weights; 0 or absent = not at all. */
  usageWeight?: number;
}

/** One queue's standing in one pool. */
export interface QueueShare {
  /** Guaranteed quota; a department without a quota for the pool deserves the sum of its projects'. */
  deserved: Resources;
  /** What the queue should hold now: deserved it can use, plus its part of the spare capacity. */
  fairShare: Resources;
  /** Hard cap; -1 (UNLIMITED) in a field = no cap on that resource. */
  limit: Resources;
  /** min(limit, allocated + pending), summed up the tree. */
  requestable: Resources;
  /** What its pods hold now (a department: the sum of its projects'). */
  allocated: Resources;
  /** Effective over-quota weight used in this pool (the configured one, bent by past usage if on). */
  overQuotaWeight: number;
}

const KEYS = ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const;
type Key = (typeof KEYS)[number];

/**
 * Lowest factor past usage may bend a weight down to: a heavy past user still gets some spare
 * capacity, so time-based fairness slows it down but never starves it.
 */
export const USAGE_WEIGHT_FLOOR = 0.05;

/** A queue in the tree, with the quantities of the pool being split (reset for every pool). */
interface Node {
  queue: QueueSnap;
  /** Sorted oldest first (createdOrder, then name) so every tie-break below is by age. */
  children: Node[];
  deserved: Resources;
  limit: Resources;
  requestable: Resources;
  allocated: Resources;
  weight: number;
  fairShare: Resources;
}

function zero(): Resources {
  return { gpuMilli: 0, cpuMillis: 0, memoryMiB: 0 };
}

/**
 * Inputs are integers by contract; rounding only absorbs float noise (fraction x GPU memory) so the
 * split stays exact, and garbage (negative, NaN) counts as nothing rather than poisoning the sums.
 */
function units(x: number): number {
  return Number.isFinite(x) && x > 0 ? Math.round(x) : 0;
}

/** Oldest first: lower createdOrder, then name. The age tie-break of fair share and of queue order. */
export function byAge(a: QueueSnap, b: QueueSnap): number {
  if (a.createdOrder !== b.createdOrder) return a.createdOrder - b.createdOrder;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Exponentially decayed usage after `elapsedMs`, plus what was used since (half-life decay). */
export function decayUsage(
  previous: number,
  addedMilliHours: number,
  elapsedMs: number,
  halfLifeMs: number,
): number {
  const added = Number.isFinite(addedMilliHours) && addedMilliHours > 0 ? addedMilliHours : 0;
  const prev = Number.isFinite(previous) && previous > 0 ? previous : 0;
  // A non-positive half-life keeps no memory; a negative elapsed time (clock stepped back) decays nothing.
  if (!(halfLifeMs > 0)) return added;
  const elapsed = Number.isNaN(elapsedMs) ? 0 : Math.max(elapsedMs, 0);
  // The usage added in the interval is counted undecayed: the store calls this every cycle, so the
  // interval is short next to any sensible half-life and the error is negligible.
  return prev * 2 ** (-elapsed / halfLifeMs) + added;
}

/** Fair shares of every queue (departments and projects) in every pool. */
export function computeFairShares(input: FairShareInput): Map<string, Map<string, QueueShare>> {
  const { roots, orphans, nodes } = buildTree(input.queues);
  const out = new Map<string, Map<string, QueueShare>>();
  for (const node of nodes) out.set(node.queue.name, new Map());
  const usageWeight =
    input.usage !== undefined && input.usageWeight !== undefined && input.usageWeight > 0
      ? input.usageWeight
      : 0;

  for (const pool of input.pools) {
    for (const root of roots) measure(root, pool, input);
    for (const orphan of orphans) measure(orphan, pool, input);
    const cap = input.capacity.get(pool);
    const capacity: Resources = cap
      ? { gpuMilli: units(cap.gpuMilli), cpuMillis: units(cap.cpuMillis), memoryMiB: units(cap.memoryMiB) }
      : zero();
    // The pool acts as an implicit parent of the departments, with the whole capacity to hand out.
    distribute(capacity, roots, pool, input, usageWeight);

    for (const node of nodes) {
      out.get(node.queue.name)?.set(pool, {
        deserved: node.deserved,
        fairShare: node.fairShare,
        limit: node.limit,
        requestable: node.requestable,
        allocated: node.allocated,
        overQuotaWeight: node.weight,
      });
    }
  }
  return out;
}

/**
 * Links queues to their parents. A queue whose parent is unknown is treated as a root so a project
 * of a deleted department still gets a share; queues caught in a parent cycle are unreachable and
 * measured alone with no share, since such a tree has no well-defined top.
 */
function buildTree(queues: readonly QueueSnap[]): { roots: Node[]; orphans: Node[]; nodes: Node[] } {
  const byName = new Map<string, Node>();
  const sorted = [...queues].sort(byAge);
  for (const queue of sorted) {
    // First (oldest) definition wins on a duplicate name, so the result does not depend on input order.
    if (byName.has(queue.name)) continue;
    byName.set(queue.name, {
      queue,
      children: [],
      deserved: zero(),
      limit: zero(),
      requestable: zero(),
      allocated: zero(),
      weight: 1,
      fairShare: zero(),
    });
  }
  const roots: Node[] = [];
  for (const node of byName.values()) {
    const parentName = node.queue.parent;
    const parent = parentName === null ? undefined : byName.get(parentName);
    if (parent === undefined) roots.push(node);
    else parent.children.push(node);
  }
  const nodes = [...byName.values()];
  const reached = new Set<Node>();
  const stack = [...roots];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    reached.add(n);
    stack.push(...n.children);
  }
  const orphans = nodes.filter((node) => !reached.has(node));
  for (const orphan of orphans) orphan.children = [];
  return { roots, orphans, nodes };
}

/** Bottom-up: a queue's deserved, limit, allocated and requestable in `pool`. */
function measure(node: Node, pool: string, input: FairShareInput): void {
  const quota = node.queue.quotas[pool];
  const leaf = node.children.length === 0;
  const deserved = zero();
  const limit = zero();
  const allocated = zero();
  const requestable = zero();
  for (const child of node.children) measure(child, pool, input);
  const ownAllocated = leaf ? input.allocated.get(node.queue.name)?.get(pool) : undefined;
  const ownPending = leaf ? input.pending.get(node.queue.name)?.get(pool) : undefined;

  for (const k of KEYS) {
    let childDeserved = 0;
    let childAllocated = 0;
    let childRequestable = 0;
    for (const child of node.children) {
      childDeserved += child.deserved[k];
      childAllocated += child.allocated[k];
      childRequestable += child.requestable[k];
    }
    // Without an entry a department places no cap (deserves what its projects do); a project deserves 0.
    deserved[k] = quota ? units(quota.deserved[k]) : childDeserved;
    limit[k] = quota && quota.limit[k] >= 0 ? Math.round(quota.limit[k]) : UNLIMITED;
    if (leaf) {
      allocated[k] = units(ownAllocated?.[k] ?? 0);
      requestable[k] = allocated[k] + units(ownPending?.[k] ?? 0);
    } else {
      allocated[k] = childAllocated;
      requestable[k] = childRequestable;
    }
    if (limit[k] !== UNLIMITED) requestable[k] = Math.min(requestable[k], limit[k]);
  }
  node.deserved = deserved;
  node.limit = limit;
  node.allocated = allocated;
  node.requestable = requestable;
  const w = quota ? quota.overQuotaWeight : 1;
  node.weight = Number.isFinite(w) && w > 0 ? w : 0;
  node.fairShare = zero();
}

/** Historical usage of a queue in a pool; a department without a record sums its projects'. */
function usageOf(node: Node, pool: string, input: FairShareInput): number {
  const own = input.usage?.[node.queue.name]?.[pool];
  if (own !== undefined) return Number.isFinite(own) && own > 0 ? own : 0;
  let sum = 0;
  for (const child of node.children) sum += usageOf(child, pool, input);
  return sum;
}

/**
 * Time-based fairness: a sibling that used more than its weight's part of the siblings' decayed
 * usage gets a proportionally smaller weight, one that used less a larger one. The factor is
 * 1 + usageWeight x (weight part - usage part), floored at USAGE_WEIGHT_FLOOR so nobody starves.
 */
function bendWeights(kids: Node[], pool: string, input: FairShareInput, usageWeight: number): void {
  if (usageWeight <= 0) return;
  let totalWeight = 0;
  let totalUsage = 0;
  const usage = kids.map((kid) => (kid.weight > 0 ? usageOf(kid, pool, input) : 0));
  kids.forEach((kid, i) => {
    if (kid.weight <= 0) return;
    totalWeight += kid.weight;
    totalUsage += usage[i] ?? 0;
  });
  if (totalWeight <= 0 || totalUsage <= 0) return;
  kids.forEach((kid, i) => {
    if (kid.weight <= 0) return;
    const factor = 1 + usageWeight * (kid.weight / totalWeight - (usage[i] ?? 0) / totalUsage);
    kid.weight *= Math.max(USAGE_WEIGHT_FLOOR, factor);
  });
}

/** Top-down: split `amount` among `kids` (per resource), then recurse into each kid's share. */
function distribute(
  amount: Resources,
  kids: Node[],
  pool: string,
  input: FairShareInput,
  usageWeight: number,
): void {
  if (kids.length === 0) return;
  bendWeights(kids, pool, input, usageWeight);
  const got = new Array<number>(kids.length);
  for (const k of KEYS) {
    splitOne(amount[k], kids, k, got);
    kids.forEach((kid, i) => {
      kid.fairShare[k] = got[i] ?? 0;
    });
  }
  for (const kid of kids) distribute(kid.fairShare, kid.children, pool, input, usageWeight);
}

/**
 * One level, one resource. Kids are sorted oldest first.
 *
 * 1. Each kid gets min(deserved, requestable). When the parent cannot cover all of that (a
 *    department whose quota is smaller than its projects' sum, or an over-committed pool), the
 *    guarantees are honoured oldest first rather than scaled: quota was promised in creation
 *    order, so the newest promise is the one that was over-committed, and a scaled split would
 *    leave every project short of a whole GPU.
 * 2. The rest is water-filled by weight, each kid capped by what it still wants. Kids sorted by
 *    want / weight are satisfied in full while that is below the fill level (rest / weight left);
 *    the others share what remains in proportion to weight. This is the fixed point of the
 *    "rounds" of docs/architecture.md §3 reached in one O(n log n) pass instead of one pass per round.
 * 3. Flooring to integer units leaves a few units; they go to the largest remainders, ties to the
 *    older kid. The outer loop only repeats if float noise left something undistributed.
 */
function splitOne(amount: number, kids: Node[], k: Key, got: number[]): void {
  let rest = amount;
  for (let i = 0; i < kids.length; i++) {
    const kid = kids[i]!;
    const give = Math.max(0, Math.min(kid.deserved[k], kid.requestable[k], rest));
    got[i] = give;
    rest -= give;
  }

  for (let round = 0; round <= kids.length && rest > 0; round++) {
    const active: number[] = [];
    let totalWeight = 0;
    for (let i = 0; i < kids.length; i++) {
      const kid = kids[i]!;
      // Weight 0 means never over quota: such a kid keeps exactly its guarantee.
      if (kid.weight > 0 && kid.requestable[k] - got[i]! > 0) {
        active.push(i);
        totalWeight += kid.weight;
      }
    }
    if (active.length === 0) break;
    const want = (i: number): number => kids[i]!.requestable[k] - got[i]!;
    active.sort((a, b) => want(a) / kids[a]!.weight - want(b) / kids[b]!.weight || a - b);

    let first = 0;
    for (; first < active.length && rest > 0; first++) {
      const i = active[first]!;
      const w = kids[i]!.weight;
      const need = want(i);
      if (need * totalWeight > rest * w) break;
      got[i] = got[i]! + need;
      rest -= need;
      totalWeight -= w;
    }
    if (first >= active.length || rest <= 0) break;

    const share = rest;
    const sharing = active.slice(first);
    const remainder = new Map<number, number>();
    for (const i of sharing) {
      const exact = (share * kids[i]!.weight) / totalWeight;
      const whole = Math.min(Math.floor(exact), want(i));
      got[i] = got[i]! + whole;
      rest -= whole;
      remainder.set(i, exact - Math.floor(exact));
    }
    sharing.sort((a, b) => remainder.get(b)! - remainder.get(a)! || a - b);
    for (const i of sharing) {
      if (rest <= 0) break;
      if (want(i) > 0) {
        got[i] = got[i]! + 1;
        rest -= 1;
      }
    }
  }
}
