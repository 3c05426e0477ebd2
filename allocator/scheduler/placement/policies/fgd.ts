/**
 * FGD, Fragmentation Gradient Descent (Weng et al., ATC'23; simulator `plugin/fgd_score.go`,
 * FGD-METHOD 4.4): place where the node's fragmentation F (frag.ts) against the target mix grows
 * least. Score = int64(100 x sigmoid((F_before - F_after) / 1000)), no normalisation, so 50 means
 * "no change" and scores saturate at 99 near a 4.6-GPU drop. After-state: CPU minus the request;
 * a share tries every GPU it fits and keeps the largest integer score, the GPU being the first
 * index that reaches it (Reserve reuses that choice); whole GPUs come off the first fully free ones.
 */

import { firstWholeGpus, gpuFitsShare, gpuShapeOf, shareMilliOn, shareTake } from '../fit.ts';
import { type FragView, fgdScoreOfDelta, fragAmountOf, fragView, nodeFragAmount } from '../frag.ts';
import type { CompiledMix } from '../mix.ts';
import type { PolicyContext, ScorePolicy } from '../policy.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from '../types.ts';
import { byIndex } from './common.ts';

/** The after-state view of taking `req` (whole GPUs or CPU only) off `node`. */
export function viewAfterWhole(node: NodeState, req: PlacementRequest): FragView {
  const v = fragView(node);
  v.cpuFree -= req.cpuMillis;
  if (gpuShapeOf(req) === 'whole') {
    const takes = firstWholeGpus(node, req) ?? [];
    // fragView keeps healthy GPUs in node order; map the taken device indexes back to positions.
    let pos = 0;
    for (const g of node.gpus) {
      if (!g.healthy) continue;
      if (takes.some((t) => t.index === g.index)) v.free[pos] = 0;
      pos++;
    }
  }
  return v;
}

/** For each candidate share GPU (index order): the GPU and the FGD score of placing there. */
export function fgdShareScores(
  node: NodeState,
  req: PlacementRequest,
  mix: CompiledMix,
  before: number,
): { gpu: GpuState; score: number }[] {
  const v = fragView(node);
  v.cpuFree -= req.cpuMillis;
  const posOf = new Map<GpuState, number>();
  let pos = 0;
  for (const g of node.gpus) if (g.healthy) posOf.set(g, pos++);
  const out: { gpu: GpuState; score: number }[] = [];
  // GPUs with the same free milli and model give the same after-state: score each kind once.
  const seen = new Map<string, number>();
  for (const g of byIndex(node)) {
    if (!gpuFitsShare(g, req)) continue;
    const key = `${g.freeMilli}/${g.model}`;
    let score = seen.get(key);
    if (score === undefined) {
      const p = posOf.get(g) ?? 0;
      const old = v.free[p] ?? 0;
      v.free[p] = old - shareMilliOn(g, req);
      score = fgdScoreOfDelta(before - fragAmountOf(v, mix));
      v.free[p] = old;
      seen.set(key, score);
    }
    out.push({ gpu: g, score });
  }
  return out;
}

/** FGD's score and GPU choice for a request on a node. */
export function fgdEvaluate(
  node: NodeState,
  req: PlacementRequest,
  ctx: PolicyContext,
): { score: number; gpus: GpuTake[] } {
  const before = ctx.memo(node, nodeFragAmount);
  const shape = gpuShapeOf(req);
  if (shape === 'milli' || shape === 'memory') {
    let best: { gpu: GpuState; score: number } | null = null;
    for (const c of fgdShareScores(node, req, ctx.mix, before))
      if (best === null || c.score > best.score) best = c;
    return best === null ? { score: 0, gpus: [] } : { score: best.score, gpus: [shareTake(best.gpu, req)] };
  }
  const after = fragAmountOf(viewAfterWhole(node, req), ctx.mix);
  const gpus = shape === 'whole' ? (firstWholeGpus(node, req) ?? []) : [];
  return { score: fgdScoreOfDelta(before - after), gpus };
}

/** The FGD baseline. */
export const fgdPolicy: ScorePolicy = {
  name: 'fgd',
  score: (node, req, ctx) => fgdEvaluate(node, req, ctx).score,
  selectGpus: (node, req, ctx) => fgdEvaluate(node, req, ctx).gpus,
};
