/**
 * The score-policy seam: how a feasible node is ranked for a request and which of its GPUs the
 * request gets. The allocator's strategies (binpack, spread, fragmentation-aware) and the FGD
 * paper's baselines (random, dot-product, gpu-packing, best-fit, fgd) all implement it, so
 * `tessera simulate` replays exactly the code the allocator runs.
 */
import type { CompiledMix } from './mix.ts';
import type { GpuTake, NodeState, PlacementRequest } from './types.ts';

/** A seeded random source; placement never reads `Math.random`, so a run is reproducible. */
export interface Rng {
  /** Uniform integer in [0, n), n >= 1. */
  intn(n: number): number;
  /** Uniform float in [0, 1). */
  float64(): number;
}

/** Every score policy, in the order reports list them. */
export const SCORE_POLICY_NAMES = [
  'random',
  'dot-product',
  'gpu-packing',
  'best-fit',
  'fgd',
  'binpack',
  'spread',
  'fragmentation-aware',
] as const;

/** The name of a score policy. */
export type ScorePolicyName = (typeof SCORE_POLICY_NAMES)[number];

/** A number computed from a node's state and the mix alone (so it can be memoised per node version). */
export type NodeMeasure = (node: NodeState, mix: CompiledMix) => number;

/** What a policy may read besides the node and the request. */
export interface PolicyContext {
  /** The target workload fragmentation is measured against. */
  readonly mix: CompiledMix;
  /** Present when the caller supplied one; only the random baseline needs it. */
  readonly rng: Rng | undefined;
  /**
   * `measure(node, mix)` for the node as it is now, memoised by the placer per node version and
   * measure (FGD and fragmentation-aware score "before" states of every node many times).
   */
  memo(node: NodeState, measure: NodeMeasure): number;
}

/**
 * Ranks feasible nodes for a request. The placer calls `score` only on nodes that pass `fits`,
 * takes the highest score and breaks ties by node name (fgd-method.md §3.4), then asks `selectGpus`
 * on the winner. `score` must depend only on the node's state and the request's shape without its
 * `memoryMiB` (node memory is still filtered), so the placer may memoise it per node version.
 */
export interface ScorePolicy {
  readonly name: ScorePolicyName;
  /** True when `score` reads `req.memoryMiB` (else requests differing only in memory share a memo). */
  readonly scoresRequestMemory?: boolean;
  /** Higher is better; any finite number. */
  score(node: NodeState, req: PlacementRequest, ctx: PolicyContext): number;
  /** The GPUs the request takes on `node` (which fits it); [] for a CPU-only request. */
  selectGpus(node: NodeState, req: PlacementRequest, ctx: PolicyContext): GpuTake[];
  /**
   * kube-scheduler's NormalizeScore over the feasible nodes' scores, in place. It must be monotone
   * non-decreasing (min-max is), so it never changes which node wins; the indexed placer therefore
   * skips it and only a reference scan applies it.
   */
  normalize?(scores: number[]): void;
  /**
   * A per-pod draw before scoring (kube PreScore): given the number of feasible nodes (> 1), the
   * position, in tie order, of the node that wins. Skipped when only one node is feasible, as
   * kube-scheduler skips scoring then (fgd-method.md §3.3).
   */
  prescore?(feasibleCount: number, ctx: PolicyContext): number;
}
