/**
 * FGD baseline `DotProd`, Tetris' alignment heuristic (Grandl et al., SIGCOMM'14) as the FGD
 * simulator runs it (`plugin/dot_product_score.go` with `-dimext merge -norm max -gpusel best`,
 * `experiments/run_scripts/generate_run_scripts.py`): node vector [CPU free, total GPU milli free]
 * and pod vector [CPU request, GPU milli request], each divided by [128000, 8000]; the dot product
 * is averaged over the 2 dimensions and the score is int64(100 x (1 - that)), no normalisation, so
 * the node whose free resources align least with the pod (the fullest) wins. GPU: best fit.
 */
import { bestFitGpus, freeGpuMilli } from '../fit.ts';
import type { ScorePolicy } from '../policy.ts';
import type { NodeState, PlacementRequest } from '../types.ts';
import { MAX_SPEC_CPU_MILLIS, MAX_SPEC_GPU_MILLI } from './best-fit.ts';
import { requestMilliTotal } from './common.ts';

/** DotProd's integer score, with the simulator's float steps. */
export function dotProductScore(node: NodeState, req: PlacementRequest): number {
  // The simulator yields no match group (score MinNodeScore) when CPU cannot hold the pod.
  if (node.cpuFreeMillis < req.cpuMillis) return 0;
  const n0 = node.cpuFreeMillis / MAX_SPEC_CPU_MILLIS;
  const n1 = freeGpuMilli(node) / MAX_SPEC_GPU_MILLI;
  const p0 = req.cpuMillis / MAX_SPEC_CPU_MILLIS;
  const p1 = requestMilliTotal(node, req) / MAX_SPEC_GPU_MILLI;
  let dot = 0;
  dot += n0 * p0;
  dot += n1 * p1;
  const s = 1 - dot / 2;
  return Math.trunc(100 * s);
}

/** The DotProd baseline. */
export const dotProductPolicy: ScorePolicy = {
  name: 'dot-product',
  score: (node, req) => dotProductScore(node, req),
  selectGpus: (node, req) => bestFitGpus(node, req),
};
