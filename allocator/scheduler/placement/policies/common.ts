/** Small helpers several score policies share, and the FGD-style scoring FGD and fragmentation-aware share. */
import { firstWholeGpus, gpuFitsShare, gpuShapeOf, shareMilliOn, shareTake } from '../fit.ts';
import { type FragView, fgdScoreOfDelta, viewAfter } from '../frag.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from '../types.ts';

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

/**
 * FGD's scoring and GPU choice over a fragmentation measure F in milli-GPU (FGD's own, or
 * fragmentation-aware's): score = int(100 sigmoid((F before - F after) / 1000)), with `before` =
 * F(node) now. A share tries every GPU it fits and keeps the first (index order) reaching the best
 * integer score, 0 and no GPU when none fits; whole GPUs come off the first fully free ones.
 */
export function fragDeltaEvaluate(
  node: NodeState,
  req: PlacementRequest,
  before: number,
  measure: (after: FragView) => number,
): { score: number; gpus: GpuTake[] } {
  const shape = gpuShapeOf(req);
  if (shape === 'milli' || shape === 'memory') {
    const v = viewAfter(node, req);
    const posOf = new Map<GpuState, number>();
    let pos = 0;
    for (const g of node.gpus) if (g.healthy) posOf.set(g, pos++);
    let best: { score: number; gpu: GpuState } | null = null;
    // GPUs with equal free milli and model leave equal after-states: score each kind once.
    const seen = new Map<string, number>();
    for (const g of byIndex(node)) {
      if (!gpuFitsShare(g, req)) continue;
      const key = `${g.freeMilli}/${g.model}`;
      let score = seen.get(key);
      if (score === undefined) {
        const p = posOf.get(g) ?? 0;
        const old = v.free[p] ?? 0;
        v.free[p] = old - shareMilliOn(g, req);
        score = fgdScoreOfDelta(before - measure(v));
        v.free[p] = old;
        seen.set(key, score);
      }
      if (best === null || score > best.score) best = { score, gpu: g };
    }
    return best === null ? { score: 0, gpus: [] } : { score: best.score, gpus: [shareTake(best.gpu, req)] };
  }
  const gpus = shape === 'whole' ? (firstWholeGpus(node, req) ?? []) : [];
  return { score: fgdScoreOfDelta(before - measure(viewAfter(node, req, gpus))), gpus };
}
