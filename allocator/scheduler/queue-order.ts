/**
 * Which project allocates next in a pool (docs/architecture.md §3, "Queue order"), and the share tests
 * reclaim reuses. Pure: reads fair shares, never changes them.
 */
import type { Resources } from '../../common/resources.ts';
import type { QueueShare } from './fairshare.ts';
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

/**
 * Where a queue stands at one level, as a key compared field by field (the rules of compareQueues):
 * below fair share first, then the one whose next allocation stays within deserved, then the lowest
 * dominant share, then the oldest (createdOrder, then name).
 */
function levelKey(q: QueueSnap, share: QueueShare, extra: Resources | undefined): (number | string)[] {
  const dominant = dominantShare(share);
  return [dominant < 1 ? 0 : 1, isWithinDeserved(share, extra) ? 0 : 1, dominant, q.createdOrder, q.name];
}

/**
 * The whole rank of `queue` in `pool`: its department's level key, then its own, then the pool (so
 * the same project in two pools is never a tie). A queue unknown to `queues` or `shares` ranks after
 * every known one, by name. Comparing keys field by field is what makes the order total: each side's
 * key depends on that side alone, whichever pool it is judged in.
 */
function rankKey(
  queue: string,
  pool: string,
  shares: Map<string, Map<string, QueueShare>>,
  queues: ReadonlyMap<string, QueueSnap>,
  next: ReadonlyMap<string, Resources> | undefined,
): (number | string)[] {
  const q = queues.get(queue);
  const share = shares.get(queue)?.get(pool);
  if (q === undefined || share === undefined) return [1, queue, pool];
  const extra = next?.get(queue);
  const [t, topShare, topExtra] = top(q, share, extra, pool, shares, queues);
  return [0, ...levelKey(t, topShare, topExtra), ...levelKey(q, share, extra), pool];
}

function compareKeys(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number | string;
    const y = b[i] as number | string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
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
  return compareQueuesAcrossPools(a, pool, b, pool, shares, queues, next);
}

/**
 * compareQueues for two candidates that may prefer different pools: `a` judged by its standing in
 * `poolA`, `b` in `poolB`. Each side is ranked on its own numbers only, so the result is the same
 * whichever side asks (compare(a, b) = -compare(b, a)) and the order stays transitive over any mix
 * of pools; in one pool it is exactly compareQueues. Zero only for the same queue in the same pool.
 */
export function compareQueuesAcrossPools(
  a: string,
  poolA: string,
  b: string,
  poolB: string,
  shares: Map<string, Map<string, QueueShare>>,
  queues: ReadonlyMap<string, QueueSnap>,
  next?: ReadonlyMap<string, Resources>,
): number {
  if (a === b && poolA === poolB) return 0;
  return compareKeys(rankKey(a, poolA, shares, queues, next), rankKey(b, poolB, shares, queues, next));
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
