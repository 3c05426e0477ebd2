/**
 * Placement: filter nodes, score them, pick GPUs (docs/architecture.md §3, "Placement").
 *
 * - fit.ts: pure feasibility; mutate.ts: the one checked writer of free capacity (the allocator's
 *   session and statement and the trace replay all go through it);
 * - policy.ts + policies/: the score policies (binpack, spread, fragmentation-aware and the FGD
 *   paper's baselines); mix.ts + frag.ts: the target workload and FGD's fragmentation measure;
 * - pool-index.ts, walk.ts, score-index.ts: the indexes that keep placement fast;
 * - explain.ts: why nothing fits.
 * `createPlacer` is what the allocator's actions and `tessera simulate` both use.
 */
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../../common/options.ts';
import { explainNoFit } from './explain.ts';
import { fits } from './fit.ts';
import { compileMix, defaultTargetMix, type TargetMix } from './mix.ts';
import { SCORE_POLICIES } from './policies/index.ts';
import type { NodeMeasure, PolicyContext, Rng, ScorePolicyName } from './policy.ts';
import { PoolIndex } from './pool-index.ts';
import { ScoreIndex, shapeKey } from './score-index.ts';
import type { NodeState, Placement, PlacementRequest, Placer } from './types.ts';
import { walkPlace } from './walk.ts';

export { explainNoFit } from './explain.ts';
export * from './fit.ts';
export { fgdScoreOfDelta, fragAmountOf, fragView, nodeFragAmount } from './frag.ts';
export * from './mix.ts';
export * from './mutate.ts';
export { SCORE_POLICIES } from './policies/index.ts';
export * from './policy.ts';
export type * from './types.ts';

/** Options of `createPlacer`. */
export interface PlacerOptions {
  /** The target workload fragmentation is measured against; default `defaultTargetMix()`. */
  mix?: TargetMix;
  /** Needed only by the random baseline. */
  rng?: Rng;
  /** Score indexes kept per pool, least recently used dropped first; default 256. */
  maxScoreIndexes?: number;
}

/** The defaults of `PlacerOptions` a table can hold (the mix is built per placer). */
const PLACER_DEFAULTS = { maxScoreIndexes: 256 } as const satisfies DefaultsOf<PlacerOptions>;

/** `PlacerOptions` complete: the mix and the index bound filled in (`rng` stays optional). */
export type ResolvedPlacerOptions = WithDefaults<PlacerOptions, typeof PLACER_DEFAULTS> & { mix: TargetMix };

/** Fills in the defaults of `options`; the default mix is computed here, a fresh `defaultTargetMix()`. */
export function resolvePlacerOptions(options: PlacerOptions): ResolvedPlacerOptions {
  return { ...withDefaults(options, PLACER_DEFAULTS), mix: options.mix ?? defaultTargetMix() };
}

/** A Placer that also runs any score policy by name (the simulator's baselines). */
export interface PolicyPlacer extends Placer {
  /** Best placement of `req` in `pool` under `policy`, or null when nothing fits. */
  placeWith(pool: string, req: PlacementRequest, policy: ScorePolicyName): Placement | null;
}

/** Builds a placer over `nodes` (the placer reads them; callers mutate and then call `update`). */
export function createPlacer(nodes: NodeState[], given: PlacerOptions = {}): PolicyPlacer {
  const options = resolvePlacerOptions(given);
  const maxIndexes = options.maxScoreIndexes;
  const pools = new Map<string, PoolIndex>();
  const where = new Map<string, { pool: PoolIndex; rank: number }>();
  // Each pool's score indexes by request shape, least recently used first; they live and die with
  // the pool (a rebuilt pool starts afresh). Kept here, not on PoolIndex, which they read.
  const scoreIndexes = new WeakMap<PoolIndex, Map<string, ScoreIndex>>();

  const rebuild = (name: string, members: readonly NodeState[]): void => {
    if (members.length === 0) {
      pools.delete(name);
      return;
    }
    const p = new PoolIndex(name, members);
    pools.set(name, p);
    p.nodes.forEach((n, rank) => {
      where.set(n.name, { pool: p, rank });
    });
  };
  const byPool = new Map<string, NodeState[]>();
  const seen = new Set<string>();
  for (const n of nodes) {
    // Names are the tie-break and the handle `update` finds a node by: they must be unique.
    if (seen.has(n.name)) throw new Error(`createPlacer: node ${n.name} given twice`);
    seen.add(n.name);
    const list = byPool.get(n.pool) ?? [];
    list.push(n);
    byPool.set(n.pool, list);
  }
  for (const [name, members] of byPool) rebuild(name, members);

  const ctx: PolicyContext = {
    mix: compileMix(options.mix),
    rng: options.rng,
    memo(node: NodeState, measure: NodeMeasure): number {
      const loc = where.get(node.name);
      // A node the placer does not hold (placeOn on a copy) is measured afresh.
      if (loc === undefined || loc.pool.nodes[loc.rank] !== node) return measure(node, this.mix);
      return loc.pool.memo(loc.rank, measure, this.mix);
    },
  };

  const freshCtx: PolicyContext = {
    mix: ctx.mix,
    rng: ctx.rng,
    memo: (node, measure) => measure(node, ctx.mix),
  };

  const placeWith = (poolName: string, req: PlacementRequest, name: ScorePolicyName): Placement | null => {
    const pool = pools.get(poolName);
    if (pool === undefined) return null;
    const policy = SCORE_POLICIES[name];
    const key = shapeKey(policy, req);
    let indexes = scoreIndexes.get(pool);
    if (indexes === undefined) {
      indexes = new Map();
      scoreIndexes.set(pool, indexes);
    }
    let index = indexes.get(key);
    if (index === undefined) {
      index = new ScoreIndex(pool.nodes.length);
      if (indexes.size >= maxIndexes) {
        const oldest = indexes.keys().next().value;
        if (oldest !== undefined) indexes.delete(oldest);
      }
    } else {
      indexes.delete(key);
    }
    indexes.set(key, index);
    index.refresh(pool, req, policy, ctx);
    let rank: number;
    if (policy.prescore !== undefined) {
      const ranks = index.feasibleRanks(pool, req);
      if (ranks.length === 0) return null;
      rank = ranks.length === 1 ? (ranks[0] ?? -1) : (ranks[policy.prescore(ranks.length, ctx)] ?? -1);
    } else {
      rank = index.best(pool, req);
    }
    const node = pool.nodes[rank];
    if (node === undefined) return null;
    return { node, gpus: policy.selectGpus(node, req, ctx) };
  };

  return {
    place(poolName, req, strategy) {
      if (strategy === 'fragmentation-aware') return placeWith(poolName, req, strategy);
      const pool = pools.get(poolName);
      return pool === undefined ? null : walkPlace(pool, req, strategy, ctx);
    },
    placeWith,
    placeOn(node, req, strategy) {
      if (!fits(node, req)) return null;
      // Callers test nodes mid-scenario (after tentative evictions, before `update`): measure afresh.
      return SCORE_POLICIES[strategy].selectGpus(node, req, freshCtx);
    },
    update(node) {
      const loc = where.get(node.name);
      if (loc !== undefined && loc.pool.name === node.pool) {
        loc.pool.touch(loc.rank, node);
        return;
      }
      // A new node, or one that moved pool: rebuild the pools involved (rare; ranks shift).
      if (loc !== undefined) {
        where.delete(node.name);
        rebuild(
          loc.pool.name,
          loc.pool.nodes.filter((n) => n.name !== node.name),
        );
      }
      const target = pools.get(node.pool);
      rebuild(node.pool, [...(target?.nodes ?? []), node]);
    },
    explainNoFit(poolName, req) {
      return explainNoFit(pools.get(poolName)?.nodes ?? [], poolName, req);
    },
  };
}
