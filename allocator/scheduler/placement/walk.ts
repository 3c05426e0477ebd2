/**
 * binpack and spread served straight from the capacity buckets: their scores are lexicographic
 * keys (policies/binpack.ts, policies/spread.ts) that the buckets are sorted by, so the first entry
 * that passes the filters in key order (names breaking ties) is the node the full scan would pick.
 */
import { gpuFitsShare, gpuShapeOf, gpusFit, nodeAdmits } from './fit.ts';
import { binpackPolicy } from './policies/binpack.ts';
import { KEY_SCALE } from './policies/common.ts';
import { spreadPolicy } from './policies/spread.ts';
import type { PolicyContext } from './policy.ts';
import { GPU_SLOTS, type PoolIndex, shareMilliLowerBound } from './pool-index.ts';
import type { Placement, PlacementRequest } from './types.ts';

/** The binpack or spread placement of `req` in `pool`, or null. */
export function walkPlace(
  pool: PoolIndex,
  req: PlacementRequest,
  strategy: 'binpack' | 'spread',
  ctx: PolicyContext,
): Placement | null {
  const shape = gpuShapeOf(req);
  let found = -1;
  if (shape === 'milli' || shape === 'memory') {
    // A memory-sized share needs a different milli on each GPU model: start from the smallest.
    const from = shareMilliLowerBound(pool, req) * KEY_SCALE;
    const visit = (e: number): boolean => {
      const r = Math.floor(e / GPU_SLOTS);
      const node = pool.nodes[r];
      const gpu = node?.gpus[e % GPU_SLOTS];
      if (node === undefined || gpu === undefined) return false;
      if (!gpuFitsShare(gpu, req) || !nodeAdmits(node, req)) return false;
      found = r;
      return true;
    };
    if (strategy === 'binpack') pool.gpus.ascending(from, visit);
    else pool.gpus.descending(from, visit);
  } else {
    const from = (shape === 'whole' ? req.gpuCount : 0) * KEY_SCALE;
    const visit = (r: number): boolean => {
      const node = pool.nodes[r];
      if (node === undefined || !nodeAdmits(node, req) || !gpusFit(node, req)) return false;
      found = r;
      return true;
    };
    if (strategy === 'binpack') pool.whole.ascending(from, visit);
    else pool.whole.descending(from, visit);
  }
  const node = pool.nodes[found];
  if (node === undefined) return null;
  const policy = strategy === 'binpack' ? binpackPolicy : spreadPolicy;
  return { node, gpus: policy.selectGpus(node, req, ctx) };
}
