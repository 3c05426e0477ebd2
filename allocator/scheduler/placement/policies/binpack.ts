/**
 * `binpack`: the fullest node and the fullest GPU that fits (docs/architecture.md §3, "Placement").
 *
 * The score is a lexicographic key folded into one number, so the capacity index can serve it by
 * walking buckets in key order instead of scoring nodes (index.ts):
 * - whole GPUs and CPU-only: fewest fully free GPUs, then least free GPU milli on the node, so big
 *   idle nodes stay whole for big gangs and CPU-only pods land where no GPU is left to strand;
 * - a share: the tightest GPU that fits (best fit, across the pool), then the fullest node.
 */
import { bestFitGpus, bestFitShareGpu, freeGpuMilli, fullyFreeCount, gpuShapeOf } from '../fit.ts';
import type { ScorePolicy } from '../policy.ts';
import type { NodeState, PlacementRequest } from '../types.ts';
import { KEY_SCALE } from './common.ts';

/** binpack's key for a request on a node: smaller is better (score = -key). */
export function binpackKey(node: NodeState, req: PlacementRequest): number {
  const shape = gpuShapeOf(req);
  if (shape === 'milli' || shape === 'memory') {
    const g = bestFitShareGpu(node, req);
    return (g === null ? KEY_SCALE : g.freeMilli) * KEY_SCALE + freeGpuMilli(node);
  }
  return fullyFreeCount(node) * KEY_SCALE + freeGpuMilli(node);
}

/** The binpack policy. */
export const binpackPolicy: ScorePolicy = {
  name: 'binpack',
  score: (node, req) => -binpackKey(node, req),
  selectGpus: (node, req) => bestFitGpus(node, req),
};
