/**
 * FGD baseline `Random` (simulator `plugin/random_score.go`, fgd-method.md §4.1): PreScore draws one
 * feasible node uniformly (`rand.Intn(#feasible)`), which scores 100 and every other node 0; a
 * share takes a GPU by reservoir sampling over the GPUs it fits (`allocateGpuIdBasedOnRandomFit`).
 */
import { firstWholeGpus, gpuFitsShare, gpuShapeOf, shareTake } from '../fit.ts';
import type { Rng, ScorePolicy } from '../policy.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from '../types.ts';
import { byIndex } from './common.ts';

function needRng(rng: Rng | undefined): Rng {
  if (rng === undefined) throw new Error('the random policy needs an rng (createPlacer options.rng)');
  return rng;
}

/** Reservoir sampling over fitting GPUs in index order: one draw per fitting GPU, as the simulator. */
export function randomGpus(node: NodeState, req: PlacementRequest, rng: Rng): GpuTake[] {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return [];
  if (shape === 'whole') return firstWholeGpus(node, req) ?? [];
  let chosen: GpuState | null = null;
  let seen = 0;
  for (const g of byIndex(node)) {
    if (!gpuFitsShare(g, req)) continue;
    seen++;
    if (rng.intn(seen) === 0) chosen = g;
  }
  return chosen === null ? [] : [shareTake(chosen, req)];
}

/** The random baseline. */
export const randomPolicy: ScorePolicy = {
  name: 'random',
  // Every node scores the same; the winner is the prescore draw, not a score.
  score: () => 0,
  prescore: (feasibleCount, ctx) => needRng(ctx.rng).intn(feasibleCount),
  selectGpus: (node, req, ctx) => randomGpus(node, req, needRng(ctx.rng)),
};
