/**
 * Fill mode: the FGD paper's allocation experiment (Weng et al., ATC'23, Fig. 9a), step by step as
 * `docs/fgd-method.md` describes it, through the allocator's own placer and policies.
 *
 * 1. One seeded generator (rng.ts) drives everything, in the simulator's order: shuffle the
 *    name-sorted pods, draw inflation copies, draw the node tie order, then the random baseline's
 *    per-pod draws (fgd-method.md §2). Go's phantom draws (1 + 10) are not imitated: with another
 *    generator they would only shift the stream, and fgd-method.md §6 shows the means do not move.
 * 2. Inflate to 130 % of GPU capacity: draw pods with replacement from the name-sorted original
 *    trace and append copies until the next one would push arrived milli (counted with its
 *    per-GPU milli, the simulator's quirk) above 1.3 x capacity; that pod is discarded.
 * 3. Ties go to the node whose seeded permutation prefix is smallest: the simulator renames node i
 *    "%04d-" % p[i] + name and kube breaks ties by name, so we rename the same way.
 * 4. Pods are placed one at a time and never leave; a pod that fits nowhere fails, is not retried
 *    and still counts as arrived. Feasibility is CPU + memory + GPU (fit.ts); kube's 1001-pods-per-node
 *    cap is not modelled (every trace pod asks for at least one core, so no node gets near it).
 * 5. The curve is the per-percent bin mean of allocation after every pod (fill-curve.ts).
 */

import {
  applyPlacement,
  compileMix,
  createPlacer,
  nodeFragAmount,
  type PlacementRequest,
  SCORE_POLICY_NAMES,
  type ScorePolicyName,
  takenMilli,
} from '../allocator/scheduler/placement/index.ts';
import type { PlacementStrategy } from '../allocator/scheduler/snapshot.ts';
import { binCurve, CURVE_MAX_PCT, type CurvePoint, type FillEvent, fillEvent } from './fill-curve.ts';
import { SeededRng } from './rng.ts';
import { type TraceNode, type TracePod, traceNodesToState, traceTargetMix } from './trace.ts';

/** Policies fill mode runs: the FGD paper's baselines and the allocator's strategies. */
export const POLICY_NAMES = SCORE_POLICY_NAMES;

/** A policy fill mode runs. */
export type PolicyName = ScorePolicyName;

/** The paper's inflation: arrivals go up to 130 % of cluster GPU capacity (`-tune 1.3`). */
export const INFLATION_RATIO = 1.3;

/** Input of `runFill`. */
export interface FillOptions {
  nodes: readonly TraceNode[];
  pods: readonly TracePod[];
  policy: PolicyName;
  seed: number;
  /** Called now and then with pods handed to the scheduler so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Output of `runFill`. */
export interface FillResult {
  policy: PolicyName;
  seed: number;
  capacityGpus: number;
  /** 131 points, arrived 0..130 % of capacity, every 1 %. */
  curve: CurvePoint[];
  /** 100 - allocated % at 100 % arrived: the paper's KPI (lower is better). */
  unallocatedPctAt100: number;
}

/** GPU milli a pod adds to arrived demand: GPUs x milli per GPU (0 for CPU-only). */
export function podDemandMilli(pod: TracePod): number {
  return pod.numGpu * pod.gpuMilli;
}

/** The placement request of a trace pod: whole GPUs, a one-GPU share, or CPU only. */
export function podRequest(pod: TracePod): PlacementRequest {
  const sharing = pod.numGpu === 1 && pod.gpuMilli < 1000;
  return {
    gpuCount: sharing ? 0 : pod.numGpu,
    gpuMilli: sharing ? pod.gpuMilli : 0,
    gpuMemoryMiB: 0,
    cpuMillis: pod.cpuMillis,
    memoryMiB: pod.memoryMiB,
    // Trace pods name no ports, and trace nodes report no range: ports never decide a sim placement.
    ports: 0,
    gpuModels: pod.gpuSpec,
    nodeTypes: [],
  };
}

/** The allocator's own strategies run through its entry point (`place`), exactly as a cycle does. */
function isStrategy(p: PolicyName): p is PlacementStrategy {
  return p === 'binpack' || p === 'spread' || p === 'fragmentation-aware';
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Inflation copies (fgd-method.md §2.3, simulator `tuneUpPods`): draw from `sorted` with replacement
 * and keep a copy while arrived + its per-GPU milli stays within ratio x capacity; the first draw
 * that would exceed it stops the loop and is discarded. Copies are appended after the trace.
 */
export function inflationCopies(
  sorted: readonly TracePod[],
  capacityMilli: number,
  rng: { intn(n: number): number },
  ratio = INFLATION_RATIO,
): TracePod[] {
  if (sorted.length === 0) return [];
  const limit = ratio * capacityMilli;
  let total = sorted.reduce((s, p) => s + podDemandMilli(p), 0);
  const copies: TracePod[] = [];
  for (;;) {
    const pod = sorted[rng.intn(sorted.length)] as TracePod;
    if (total + pod.gpuMilli > limit) break;
    // A trace of CPU-only pods never reaches the limit: stop at the paper's pod count ratio instead.
    if (copies.length > 16 * sorted.length) break;
    copies.push({ ...pod, name: `${pod.name}-copy${copies.length}` });
    total += podDemandMilli(pod);
  }
  return copies;
}

/** Renames nodes "%0Nd-" % p[i] + name over the name-sorted list, so name order = seeded tie order. */
export function tieOrderNames(sortedNames: readonly string[], perm: readonly number[]): string[] {
  const width = Math.max(4, String(Math.max(sortedNames.length - 1, 0)).length);
  return sortedNames.map((n, i) => `${String(perm[i] ?? i).padStart(width, '0')}-${n}`);
}

/** Replays `pods` on `nodes` the FGD way with `policy` and `seed` (see the file comment). */
export function runFill(opts: FillOptions): FillResult {
  const rng = new SeededRng(opts.seed);
  const sortedPods = [...opts.pods].sort(byName);
  const order = [...sortedPods];
  rng.shuffle(order);
  const sortedNodes = [...opts.nodes].sort(byName);
  const capacityGpus = sortedNodes.reduce((s, n) => s + n.gpuCount, 0);
  const capacityMilli = capacityGpus * 1000;
  order.push(...inflationCopies(sortedPods, capacityMilli, rng));

  const names = tieOrderNames(
    sortedNodes.map((n) => n.name),
    rng.perm(sortedNodes.length),
  );
  const state = traceNodesToState(sortedNodes.map((n, i) => ({ ...n, name: names[i] ?? n.name })));
  // The target workload comes from the original trace, before inflation (fgd-method.md §2, last line).
  const mix = traceTargetMix(sortedPods);
  const compiled = compileMix(mix);
  const placer = createPlacer(state, { mix, rng });

  // Fragmentation of every node against the target mix, kept as a running sum for the metric.
  const frag = state.map((n) => nodeFragAmount(n, compiled));
  let fragSum = frag.reduce((s, f) => s + f, 0);
  const indexOf = new Map(state.map((n, i) => [n.name, i]));

  let arrived = 0;
  let used = 0;
  const events: FillEvent[] = [];
  const total = order.length;
  const step = Math.max(1, Math.floor(total / 100));
  const cap = Math.max(capacityGpus, 1);
  for (let i = 0; i < total; i++) {
    const pod = order[i] as TracePod;
    arrived += podDemandMilli(pod);
    const req = podRequest(pod);
    const placement = isStrategy(opts.policy)
      ? placer.place('default', req, opts.policy)
      : placer.placeWith('default', req, opts.policy);
    if (placement !== null) {
      applyPlacement(placement.node, placement.gpus, req);
      placer.update(placement.node);
      used += takenMilli(placement.gpus);
      const k = indexOf.get(placement.node.name) ?? 0;
      const f = nodeFragAmount(placement.node, compiled);
      fragSum += f - (frag[k] ?? 0);
      frag[k] = f;
    }
    events.push(fillEvent(arrived, used, fragSum, cap));
    if (opts.onProgress !== undefined && (i % step === 0 || i === total - 1)) opts.onProgress(i + 1, total);
  }
  const curve = binCurve(events, CURVE_MAX_PCT);
  const at100 = curve[100]?.allocatedPct ?? 0;
  return {
    policy: opts.policy,
    seed: opts.seed,
    capacityGpus,
    curve,
    unallocatedPctAt100: Number((100 - at100).toFixed(2)),
  };
}
