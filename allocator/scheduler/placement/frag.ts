/**
 * FGD's fragmentation measure of one node against a target mix (Weng et al., ATC'23, section 4.2;
 * simulator `pkg/utils/frag.go` `NodeGpuShareFragAmount` + `FragAmountSumExceptQ3`, fgd-method.md §4.4).
 *
 * F(n) = sum over target shapes t of p_t * f_t, with G the node's idle GPU milli:
 * - t CPU-only: f_t = G (all idle GPU is useless to a pod that wants none);
 * - n's GPU model not allowed for t: f_t = G;
 * - n can host t (>= k_t GPUs with free >= m_t, and CPU free >= c_t): f_t = idle milli on GPUs
 *   with free < m_t (slivers t cannot use);
 * - otherwise f_t = G.
 * Sums are kept per category and added in the simulator's order, so integer scores derived from
 * F truncate exactly as the paper's do.
 */
import type { CompiledMix } from './mix.ts';
import type { GpuTake, NodeState, PlacementRequest } from './types.ts';

/** The part of a node the measures read: free milli and model of each healthy GPU, free CPU and memory. */
export interface FragView {
  free: number[];
  models: string[];
  cpuFree: number;
  /** Free host memory; FGD's measure ignores it, fragmentation-aware's reads it. */
  memFree: number;
  /** The one model all GPUs share, or null when mixed (then the model test runs per GPU). */
  sameModel: string | null;
}

/** The view of a node's current state (unhealthy GPUs are neither idle capacity nor fragment). */
export function fragView(node: NodeState): FragView {
  const free: number[] = [];
  const models: string[] = [];
  for (const g of node.gpus) {
    if (!g.healthy) continue;
    free.push(g.freeMilli);
    models.push(g.model);
  }
  const first = models[0];
  const sameModel = first !== undefined && models.every((m) => m === first) ? first : null;
  return { free, models, cpuFree: node.cpuFreeMillis, memFree: node.memoryFreeMiB, sameModel };
}

/**
 * The view of `node` once `req` is placed: its CPU and memory taken and each GPU of `takes` (whole
 * GPUs) fully used. A share's GPU is left as is: the caller tries each candidate on this view.
 */
export function viewAfter(node: NodeState, req: PlacementRequest, takes: readonly GpuTake[] = []): FragView {
  const v = fragView(node);
  v.cpuFree -= req.cpuMillis;
  v.memFree -= req.memoryMiB;
  // fragView keeps healthy GPUs in node order; map the taken device indexes back to positions.
  let pos = 0;
  for (const g of node.gpus) {
    if (!g.healthy) continue;
    if (takes.some((t) => t.index === g.index)) v.free[pos] = 0;
    pos++;
  }
  return v;
}

/** G: the idle milli of the view's GPUs. */
export function idleMilli(v: FragView): number {
  let total = 0;
  for (let i = 0; i < v.free.length; i++) total += v.free[i] ?? 0;
  return total;
}

/** F(view) in milli-GPU against `mix`. */
export function fragAmountOf(v: FragView, mix: CompiledMix): number {
  const total = idleMilli(v);
  if (total === 0) return 0;
  const free = v.free;
  const n = free.length;
  // One sum per category of the simulator's FragRatioDataMap (q1 lack both, q2 lack GPU, q4 lack
  // CPU, xl/xr CPU-only target, na no access); q3 "satisfied" is not a fragment and not kept.
  let q1 = 0;
  let q2 = 0;
  let q4 = 0;
  let xl = 0;
  let xr = 0;
  let na = 0;
  for (let t = 0; t < mix.size; t++) {
    const w = mix.weight[t] ?? 0;
    const m = mix.milli[t] ?? 0;
    const c = mix.cpu[t] ?? 0;
    if (m === 0) {
      if (v.cpuFree >= c) xl += w * total;
      else xr += w * total;
      continue;
    }
    const allowed = mix.models[t] ?? null;
    const k = mix.count[t] ?? 0;
    let usable = 0;
    let usableFree = 0;
    let anyAccess = allowed === null;
    if (allowed === null || (v.sameModel !== null && allowed.includes(v.sameModel))) {
      anyAccess = true;
      for (let i = 0; i < n; i++) {
        const f = free[i] ?? 0;
        if (f >= m) {
          usable++;
          usableFree += f;
        }
      }
    } else if (v.sameModel === null) {
      for (let i = 0; i < n; i++) {
        if (!allowed.includes(v.models[i] ?? '')) continue;
        anyAccess = true;
        const f = free[i] ?? 0;
        if (f >= m) {
          usable++;
          usableFree += f;
        }
      }
    }
    if (!anyAccess) na += w * total;
    else if (usable >= k) {
      if (v.cpuFree >= c) q2 += w * (total - usableFree);
      else q4 += w * total;
    } else if (v.cpuFree >= c) q2 += w * total;
    else q1 += w * total;
  }
  return q1 + q2 + q4 + xl + xr + na;
}

/** F(node) in milli-GPU against `mix`. */
export function nodeFragAmount(node: NodeState, mix: CompiledMix): number {
  return fragAmountOf(fragView(node), mix);
}

/** The FGD score of a change in fragmentation: int64(100 * sigmoid(dF / 1000)), 50 = no change. */
export function fgdScoreOfDelta(deltaMilli: number): number {
  // Same float steps as the simulator: sigmoid first, then x100, then truncate toward zero.
  const sigmoid = 1 / (1 + Math.exp(-deltaMilli / 1000));
  return Math.trunc(sigmoid * 100);
}
