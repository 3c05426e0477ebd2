/**
 * A score index: for one (pool, policy, request shape), the pool's feasible nodes kept sorted by
 * (score desc, name asc). A placement reads the head instead of scoring the pool.
 *
 * Why it stays faithful to "score every feasible node and take the best": a policy's score is a
 * function of the node's state and the request shape only (policy.ts), so a node whose version has
 * not changed since it was scored still has that score. On each use the index re-scores exactly the
 * nodes changed since its last use (read from the pool's change log, or by comparing versions when
 * it fell behind) and nothing else. The first use scores only the candidates the capacity buckets
 * offer (nodes with k fully free GPUs, or a GPU with the share free); every other node cannot fit
 * until it changes, and a change puts it in the log. Request memory is checked while reading the
 * head, and left out of the shape for policies whose score does not read it, so pods that differ
 * only in memory share one index there.
 */
import { gpuShapeOf, gpusFit, nodeAdmitsExceptMemory } from './fit.ts';
import { KEY_SCALE } from './policies/common.ts';
import type { PolicyContext, ScorePolicy } from './policy.ts';
import { GPU_SLOTS, type PoolIndex, shareMilliLowerBound } from './pool-index.ts';
import type { PlacementRequest } from './types.ts';

/**
 * The cache key of a request shape under a policy. Request memory is left out (see above) unless
 * the policy's score reads it (`ScorePolicy.scoresRequestMemory`).
 */
export function shapeKey(policy: ScorePolicy, req: PlacementRequest): string {
  const mem = policy.scoresRequestMemory === true ? req.memoryMiB : '';
  return `${policy.name}|${req.cpuMillis}|${mem}|${req.gpuCount}|${req.gpuMilli}|${req.gpuMemoryMiB}|${req.gpuModels.join(',')}|${req.nodeTypes.join(',')}|${req.needsContainer === true ? 'c' : ''}|${req.ports}`;
}

/** A policy's score made safe to sort: anything not finite ranks last. */
function finite(score: number): number {
  return Number.isFinite(score) ? score : -Number.MAX_VALUE;
}

/** Feasible nodes of a pool for one request shape, sorted by (score desc, rank asc). */
export class ScoreIndex {
  private readonly scores: Float64Array;
  private readonly inOrder: Uint8Array;
  private readonly seen: Int32Array;
  private readonly order: number[] = [];
  private logPos = -1;

  constructor(size: number) {
    this.scores = new Float64Array(size);
    this.inOrder = new Uint8Array(size);
    this.seen = new Int32Array(size).fill(-1);
  }

  /** Brings the index up to date with the pool (see the file comment). */
  refresh(pool: PoolIndex, req: PlacementRequest, policy: ScorePolicy, ctx: PolicyContext): void {
    const n = pool.nodes.length;
    if (this.logPos < 0) {
      this.build(pool, req, policy, ctx);
    } else if (this.logPos < pool.logBase || pool.logEnd - this.logPos > n) {
      for (let r = 0; r < n; r++)
        if (this.seen[r] !== pool.version[r]) this.rescore(pool, r, req, policy, ctx);
    } else {
      for (let i = this.logPos - pool.logBase; i < pool.log.length; i++) {
        const r = pool.log[i] ?? 0;
        if (this.seen[r] !== pool.version[r]) this.rescore(pool, r, req, policy, ctx);
      }
    }
    this.logPos = pool.logEnd;
  }

  /** Rank of the best node whose free memory holds the request, or -1. */
  best(pool: PoolIndex, req: PlacementRequest): number {
    for (const r of this.order) if ((pool.nodes[r]?.memoryFreeMiB ?? -1) >= req.memoryMiB) return r;
    return -1;
  }

  /** Ranks of all nodes that fit, in tie order (rank ascending). */
  feasibleRanks(pool: PoolIndex, req: PlacementRequest): number[] {
    const out = this.order.filter((r) => (pool.nodes[r]?.memoryFreeMiB ?? -1) >= req.memoryMiB);
    return out.sort((a, b) => a - b);
  }

  private build(pool: PoolIndex, req: PlacementRequest, policy: ScorePolicy, ctx: PolicyContext): void {
    const n = pool.nodes.length;
    const candidate = new Uint8Array(n);
    const shape = gpuShapeOf(req);
    if (shape === 'whole') {
      pool.whole.ascending(req.gpuCount * KEY_SCALE, (r) => {
        candidate[r] = 1;
        return false;
      });
    } else if (shape === 'milli' || shape === 'memory') {
      pool.gpus.ascending(shareMilliLowerBound(pool, req) * KEY_SCALE, (e) => {
        candidate[Math.floor(e / GPU_SLOTS)] = 1;
        return false;
      });
    } else {
      pool.whole.ascending(0, (r) => {
        candidate[r] = 1;
        return false;
      });
    }
    for (let r = 0; r < n; r++) {
      this.seen[r] = pool.version[r] ?? 0;
      const node = pool.nodes[r];
      if (candidate[r] !== 1 || node === undefined) continue;
      if (!nodeAdmitsExceptMemory(node, req) || !gpusFit(node, req)) continue;
      this.scores[r] = finite(policy.score(node, req, ctx));
      this.inOrder[r] = 1;
      this.order.push(r);
    }
    const s = this.scores;
    this.order.sort((a, b) => (s[b] ?? 0) - (s[a] ?? 0) || a - b);
  }

  private rescore(
    pool: PoolIndex,
    r: number,
    req: PlacementRequest,
    policy: ScorePolicy,
    ctx: PolicyContext,
  ): void {
    if (this.inOrder[r] === 1) {
      this.order.splice(this.position(this.scores[r] ?? 0, r), 1);
      this.inOrder[r] = 0;
    }
    this.seen[r] = pool.version[r] ?? 0;
    const node = pool.nodes[r];
    if (node === undefined || !nodeAdmitsExceptMemory(node, req) || !gpusFit(node, req)) return;
    const score = finite(policy.score(node, req, ctx));
    this.scores[r] = score;
    this.inOrder[r] = 1;
    this.order.splice(this.position(score, r), 0, r);
  }

  /** First position whose entry does not come before (score, rank) in (score desc, rank asc) order. */
  private position(score: number, rank: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.order[mid] ?? 0;
      const se = this.scores[e] ?? 0;
      if (se > score || (se === score && e < rank)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
