/**
 * FGD, Fragmentation Gradient Descent (Weng et al., ATC'23; simulator `plugin/fgd_score.go`,
 * fgd-method.md §4.4): place where the node's fragmentation F (frag.ts) against the target mix grows
 * least. Score = int64(100 x sigmoid((F_before - F_after) / 1000)), no normalisation, so 50 means
 * "no change" and scores saturate at 99 near a 4.6-GPU drop. After-state: CPU minus the request
 * (memory too, which F ignores); a share tries every GPU it fits and keeps the largest integer
 * score, the GPU being the first index that reaches it (Reserve reuses that choice); whole GPUs
 * come off the first fully free ones. That scoring is `fragDeltaEvaluate` (common.ts), which
 * fragmentation-aware runs over its own measure.
 */

import { fragAmountOf, nodeFragAmount } from '../frag.ts';
import type { PolicyContext, ScorePolicy } from '../policy.ts';
import type { GpuTake, NodeState, PlacementRequest } from '../types.ts';
import { fragDeltaEvaluate } from './common.ts';

/** FGD's score and GPU choice for a request on a node. */
export function fgdEvaluate(
  node: NodeState,
  req: PlacementRequest,
  ctx: PolicyContext,
): { score: number; gpus: GpuTake[] } {
  return fragDeltaEvaluate(node, req, ctx.memo(node, nodeFragAmount), (v) => fragAmountOf(v, ctx.mix));
}

/** The FGD baseline. */
export const fgdPolicy: ScorePolicy = {
  name: 'fgd',
  score: (node, req, ctx) => fgdEvaluate(node, req, ctx).score,
  selectGpus: (node, req, ctx) => fgdEvaluate(node, req, ctx).gpus,
};
