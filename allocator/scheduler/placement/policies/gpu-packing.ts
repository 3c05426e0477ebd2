/**
 * FGD baseline `GpuPacking` (simulator `plugin/gpu_packing_score.go`, fgd-method.md §4.3), no
 * normalisation. CPU-only pods score 0 everywhere. GPU pods, from high to low:
 * - sharing used GPUs: max(100 - (sum of floor(free x 100 / 1000) over the GPUs used) / 10, 50);
 * - using fully free GPUs on a used node: max(50 - #fully free GPUs used, 33);
 * - a node whose GPUs are all free: max(33 - n, n), so 1/2/4/8 GPUs -> 32/31/29/25.
 * The share GPU is the tightest that fits.
 */
import { bestFitGpus, fullyFreeCount, gpuFitsShare, gpuFitsWhole, gpuShapeOf } from '../fit.ts';
import type { ScorePolicy } from '../policy.ts';
import type { GpuState, NodeState, PlacementRequest } from '../types.ts';
import { byIndex } from './common.ts';

/** GpuPacking's integer score of a GPU request on a node. */
export function gpuPackingScore(node: NodeState, req: PlacementRequest): number {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return 0;
  const n = node.gpus.length;
  const fullyFree = fullyFreeCount(node);
  if (fullyFree === n) return Math.max(Math.trunc(100 / 3) - fullyFree, fullyFree);
  // Least free first, stable by device index (simulator `SortedMilliGpuLeftIndexList(true)`).
  const sorted = [...byIndex(node)].sort((a, b) => a.freeMilli - b.freeMilli);
  const fitsOne = (g: GpuState): boolean => (shape === 'whole' ? gpuFitsWhole(g, req) : gpuFitsShare(g, req));
  let want = shape === 'whole' ? req.gpuCount : 1;
  let fullyFreeUsed = 0;
  const used: GpuState[] = [];
  for (const g of sorted) {
    if (want === 0) break;
    if (!fitsOne(g)) continue;
    want--;
    used.push(g);
    if (g.freeMilli === 1000) fullyFreeUsed++;
  }
  if (want !== 0) return 0;
  if (fullyFreeUsed > 0) return Math.max(50 - fullyFreeUsed, Math.trunc(100 / 3));
  let freePct = 0;
  for (const g of used) freePct += Math.trunc((g.freeMilli * 100) / 1000);
  return Math.max(100 - Math.trunc(freePct / 10), 50);
}

/** The GpuPacking baseline. */
export const gpuPackingPolicy: ScorePolicy = {
  name: 'gpu-packing',
  score: (node, req) => gpuPackingScore(node, req),
  selectGpus: (node, req) => bestFitGpus(node, req),
};
