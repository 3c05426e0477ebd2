/**
 * `spread`: the emptiest node and the emptiest GPU that fits (docs/architecture.md §3, "Placement").
 *
 * The mirror of binpack's key, so the same capacity buckets serve it walked from the top:
 * whole GPUs and CPU-only: most fully free GPUs, then most free milli; a share: the GPU with the
 * most free milli that fits, then the emptiest node.
 */
import { firstWholeGpus, freeGpuMilli, fullyFreeCount, gpuShapeOf, shareTake } from '../fit.ts';
import type { ScorePolicy } from '../policy.ts';
import type { GpuTake, NodeState, PlacementRequest } from '../types.ts';
import { KEY_SCALE, worstFitShareGpu } from './common.ts';

/** spread's key for a request on a node: larger is better (score = key). */
export function spreadKey(node: NodeState, req: PlacementRequest): number {
  const shape = gpuShapeOf(req);
  if (shape === 'milli' || shape === 'memory') {
    const g = worstFitShareGpu(node, req);
    return (g === null ? -1 : g.freeMilli) * KEY_SCALE + freeGpuMilli(node);
  }
  return fullyFreeCount(node) * KEY_SCALE + freeGpuMilli(node);
}

/** GPUs by spread: whole requests take the first free GPUs, a share the emptiest GPU. */
export function spreadGpus(node: NodeState, req: PlacementRequest): GpuTake[] {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return [];
  if (shape === 'whole') return firstWholeGpus(node, req) ?? [];
  const g = worstFitShareGpu(node, req);
  return g === null ? [] : [shareTake(g, req)];
}

/** The spread policy. */
export const spreadPolicy: ScorePolicy = {
  name: 'spread',
  score: (node, req) => spreadKey(node, req),
  selectGpus: (node, req) => spreadGpus(node, req),
};
