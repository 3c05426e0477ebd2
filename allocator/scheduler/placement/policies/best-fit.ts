/**
 * FGD baseline `BestFit` (simulator `plugin/best_fit_score.go`, fgd-method.md §4.2):
 * raw = int64((1 - [0.5 (cpuFree - cpuReq)/128000 + 0.5 (gpuFree - gpuReq)/8000]) x 100), free
 * measured before placing and GPU as total milli on the node; then kube's min-max NormalizeScore
 * (`plugin_utils.go`, integer division). The share GPU is the tightest that fits.
 */
import { bestFitGpus, freeGpuMilli } from '../fit.ts';
import type { ScorePolicy } from '../policy.ts';
import type { NodeState, PlacementRequest } from '../types.ts';
import { requestMilliTotal } from './common.ts';

/** FGD's CPU normalisation constant (simulator `MaxSpecCpu`). */
export const MAX_SPEC_CPU_MILLIS = 128_000;
/** FGD's GPU normalisation constant (simulator `MaxSpecGpu`): 8 GPUs. */
export const MAX_SPEC_GPU_MILLI = 8_000;

/** BestFit's raw integer score, with the simulator's float steps. */
export function bestFitRawScore(node: NodeState, req: PlacementRequest): number {
  const cpuLeft = node.cpuFreeMillis - req.cpuMillis;
  const gpuLeft = freeGpuMilli(node) - requestMilliTotal(node, req);
  let s = 0;
  s += (cpuLeft / MAX_SPEC_CPU_MILLIS) * 0.5;
  s += (gpuLeft / MAX_SPEC_GPU_MILLI) * 0.5;
  return Math.trunc((1.0 - s) * 100);
}

/** kube-scheduler's min-max normalisation to 0..100 with integer division; all 0 when flat. */
export function minMaxNormalize(scores: number[]): void {
  if (scores.length === 0) return;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  for (let i = 0; i < scores.length; i++) {
    scores[i] = max === min ? 0 : Math.trunc((((scores[i] ?? 0) - min) * 100) / (max - min));
  }
}

/** The BestFit baseline. */
export const bestFitPolicy: ScorePolicy = {
  name: 'best-fit',
  score: (node, req) => bestFitRawScore(node, req),
  normalize: minMaxNormalize,
  selectGpus: (node, req) => bestFitGpus(node, req),
};
