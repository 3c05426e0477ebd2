/** The registry of score policies, by name. */
import type { ScorePolicy, ScorePolicyName } from '../policy.ts';
import { bestFitPolicy } from './best-fit.ts';
import { binpackPolicy } from './binpack.ts';
import { dotProductPolicy } from './dot-product.ts';
import { fgdPolicy } from './fgd.ts';
import { fragmentationAwarePolicy } from './fragmentation-aware.ts';
import { gpuPackingPolicy } from './gpu-packing.ts';
import { randomPolicy } from './random.ts';
import { spreadPolicy } from './spread.ts';

/** Every score policy by name. */
export const SCORE_POLICIES: Readonly<Record<ScorePolicyName, ScorePolicy>> = {
  random: randomPolicy,
  'dot-product': dotProductPolicy,
  'gpu-packing': gpuPackingPolicy,
  'best-fit': bestFitPolicy,
  fgd: fgdPolicy,
  binpack: binpackPolicy,
  spread: spreadPolicy,
  'fragmentation-aware': fragmentationAwarePolicy,
};
