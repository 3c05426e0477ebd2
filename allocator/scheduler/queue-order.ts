/**
 * Which project allocates next in a pool (docs/architecture.md §3, "Queue order"), and the share tests
 * reclaim reuses. Pure: reads fair shares, never changes them.
 */
import type { Resources } from '../../common/resources.ts';
import { byAge, type QueueShare } from './fairshare.ts';
import type { QueueSnap } from './snapshot.ts';

const KEYS = ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const;

/**
 * Dominant resource share allocated / max(deserved, fairShare), the max over resources with a
 * non-zero denominator. A resource the queue holds (or would hold with `extra`) while entitled to
 * none of it counts as Infinity: skipping it would rank a queue living entirely off others' share
 * as the most starved one.
 */
export function dominantShare(share: QueueShare, extra?: Resources): number {
  let dominant = 0;
  for (const k of KEYS) {
    const used = share.allocated[k] + (extra?.[k] ?? 0);
    const entitled = Math.max(share.deserved[k], share.fairShare[k]);
    if (entitled > 0) dominant = Math.max(dominant, used / entitled);
    else if (used > 0) return Number.POSITIVE_INFINITY;
  }
  return dominant;
}

/**
 * True when allocated + extra exceeds fairShare in any resource that `extra` asks for (any
 * resource at all when `extra` is omitted). Resources the request does not touch are ignored: a
 * queue slightly over its CPU share must not be barred from taking back GPUs it is owed.
 */
export function isOverFairShare(share: QueueShare, extra?: Resources): boolean {
  for (const k of KEYS) {
    const asked = extra?.[k] ?? 0;
    if (extra !== undefined && asked <= 0) continue;
    if (share.allocated[k] + asked > share.fairShare[k]) return true;
  }
  return false;
}

/**
 * True when allocated + extra stays within deserved. GPU is always checked (every quota has
 * one, so GPU deserved 0 really means "none guaranteed"); CPU and memory only where a quota is
 * set (deserved > 0), because those quotas are optional and an unset one must not make every pod
 * with a CPU request look over quota.
 */
export function isWithinDeserved(share: QueueShare, extra?: Resources): boolean {
  for (const k of KEYS) {
    if (k !== 'gpuMilli' && share.deserved[k] <= 0) continue;
    if (share.allocated[k] + (extra?.[k] ?? 0) > share.deserved[k]) return false;
  }
  return true;
}

/** Same-level comparison of two queues by the rules of compareQueues; negative = `a` first. */
function compareLevel(
  a: QueueSnap,
  sa: QueueShare,
  b: QueueSnap,
  sb: QueueShare,
  extraA: Resources | undefined,
  extraB: Resources | undefined,
): number {
  const dominantA = dominantShare(sa);
  const dominantB = dominantShare(sb);
  const belowA = dominantA < 1;
  const belowB = dominantB < 1;
  if (belowA !== belowB) return belowA ? -1 : 1;
  const withinA = isWithinDeserved(sa, extraA);
  const withinB = isWithinDeserved(sb, extraB);
  if (withinA !== withinB) return withinA ? -1 : 1;
  if (dominantA !== dominantB) return dominantA < dominantB ? -1 : 1;
  return byAge(a, b);
}

/**
 * Order projects for allocation in one pool (docs/architecture.md §3, "Queue order").
 *
 * Rules, at each level: below fair share (dominantShare < 1) first; then the one whose next
 * allocation would stay within deserved; then the lowest dominant share; then the oldest
 * (createdOrder, then name). Departments are compared first, so a busy department cannot crowd
 * out another through many small projects; projects of the same department are compared next.
 * `next` holds each project's next allocation (e.g. its head gang's total request); without it
 * "would stay within deserved" reads "is within deserved now". A department is judged on its own
 * numbers, without its project's `next`, so that the comparator stays a consistent total order
 * that Array.prototype.sort can rely on; a project without a known department stands as its own.
 * Queues unknown to `queues` or `shares` come last, by name, so a bad caller cannot jump the line.
 */
export function compareQueues(
  a: string,
  b: string,
  pool: string,
  shares: Map<string, Map<string, QueueShare>>,
  queues: ReadonlyMap<string, QueueSnap>,
  next?: ReadonlyMap<string, Resources>,
): number {
  if (a === b) return 0;
  const qa = queues.get(a);
  const qb = queues.get(b);
  const sa = shares.get(a)?.get(pool);
  const sb = shares.get(b)?.get(pool);
  if (qa === undefined || sa === undefined || qb === undefined || sb === undefined) {
    const knownA = qa !== undefined && sa !== undefined;
    const knownB = qb !== undefined && sb !== undefined;
    if (knownA !== knownB) return knownA ? -1 : 1;
    return a < b ? -1 : 1;
  }
  const extraA = next?.get(a);
  const extraB = next?.get(b);
  const [ta, sta, topExtraA] = top(qa, sa, extraA, pool, shares, queues);
  const [tb, stb, topExtraB] = top(qb, sb, extraB, pool, shares, queues);
  if (ta.name !== tb.name) return compareLevel(ta, sta, tb, stb, topExtraA, topExtraB);
  return compareLevel(qa, sa, qb, sb, extraA, extraB);
}

/**
 * The department a project is ranked under: its parent when known (with a share, judged without
 * the project's next allocation), else the project itself (with it). Either way the key depends on
 * that department alone, which keeps the order transitive.
 */
function top(
  queue: QueueSnap,
  share: QueueShare,
  extra: Resources | undefined,
  pool: string,
  shares: Map<string, Map<string, QueueShare>>,
  queues: ReadonlyMap<string, QueueSnap>,
): [QueueSnap, QueueShare, Resources | undefined] {
  const parent = queue.parent === null ? undefined : queues.get(queue.parent);
  const parentShare = parent === undefined ? undefined : shares.get(parent.name)?.get(pool);
  if (parent !== undefined && parentShare !== undefined) return [parent, parentShare, undefined];
  return [queue, share, extra];
}
