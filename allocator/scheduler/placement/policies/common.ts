/** Small helpers several score policies share. */
import { gpuFitsShare, gpuShapeOf, shareMilliOn } from '../fit.ts';
import type { GpuState, NodeState, PlacementRequest } from '../types.ts';

/** Scale that keeps a lexicographic (primary, secondary milli) pair in one safe integer. */
export const KEY_SCALE = 2 ** 20;

/** GPUs of a node in index order (the simulator walks `MilliGpuLeftList` by device index). */
export function byIndex(node: NodeState): GpuState[] {
  const gpus = node.gpus;
  for (let i = 1; i < gpus.length; i++) {
    if ((gpus[i]?.index ?? 0) < (gpus[i - 1]?.index ?? 0)) return [...gpus].sort((a, b) => a.index - b.index);
  }
  return gpus;
}

/** Milli the request takes per GPU on this node (1000 whole, its share, 0 CPU-only). */
export function milliPerGpu(node: NodeState, req: PlacementRequest): number {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return 0;
  if (shape === 'whole') return 1000;
  for (const g of node.gpus) if (gpuFitsShare(g, req)) return shareMilliOn(g, req);
  const g = node.gpus[0];
  return g === undefined ? 0 : shareMilliOn(g, req);
}

/** Total milli the request takes on this node: GPUs x milli per GPU. */
export function requestMilliTotal(node: NodeState, req: PlacementRequest): number {
  const per = milliPerGpu(node, req);
  return gpuShapeOf(req) === 'whole' ? per * req.gpuCount : per;
}

/** The share GPU with the most free milli that fits, lowest index on ties (worst fit). */
export function worstFitShareGpu(node: NodeState, req: PlacementRequest): GpuState | null {
  let best: GpuState | null = null;
  for (const g of byIndex(node)) {
    if (!gpuFitsShare(g, req)) continue;
    if (best === null || g.freeMilli > best.freeMilli) best = g;
  }
  return best;
}
