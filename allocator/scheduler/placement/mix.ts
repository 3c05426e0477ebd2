/**
 * The target workload: the mix of pod shapes that fragmentation is measured against.
 *
 * FGD (Weng et al., ATC'23, section 4; simulator `pkg/utils/frag.go` `GetTypicalPods`) calls it
 * the "typical pods": group the trace's pods by (CPU, milli per GPU, GPU count, GPU type), keep the
 * most frequent shapes until they cover 95 % of pods, and renormalise their frequencies.
 */
import { MILLI_PER_GPU, memoryToGpuMilli } from '../../../common/resources.ts';
import type { PlacementRequest } from './types.ts';

/** One shape of the target mix and its weight (the weights of a mix sum to 1). */
export interface TargetShape {
  cpuMillis: number;
  /** Milli per GPU: below 1000 for a share, 1000 for whole GPUs, 0 for a CPU-only pod. */
  gpuMilli: number;
  gpuCount: number;
  /** Allowed GPU models; empty = any. */
  gpuModels: readonly string[];
  /**
   * Host memory a pod of this shape asks for (the mean over the pods grouped into it; FGD groups
   * without memory, so this never splits a shape). FGD's own measure ignores it.
   */
  memoryMiB: number;
  weight: number;
}

/** A target workload: shapes with weights summing to 1. */
export type TargetMix = readonly TargetShape[];

/** A pod as the mix sees it (memory does not group shapes, as in FGD). */
export interface MixPod {
  cpuMillis: number;
  gpuMilli: number;
  gpuCount: number;
  gpuModels: readonly string[];
  memoryMiB?: number;
}

/** FGD's `podPopularityThreshold` (fgd-method.md §1.3): shapes are kept until they cover this share. */
export const DEFAULT_MIX_COVERAGE = 0.95;

/**
 * The FGD typical-pod mix of `pods`: shapes by count descending (ties: larger CPU, milli, count,
 * type first, as the simulator's reversed sort), cut once they cover `coverage` of pods, renormalised.
 */
export function targetMixFromPods(pods: readonly MixPod[], coverage = DEFAULT_MIX_COVERAGE): TargetMix {
  const groups = new Map<string, { shape: MixPod; type: string; count: number; memSum: number }>();
  for (const p of pods) {
    const type = p.gpuModels.join('|');
    const key = `${p.cpuMillis}/${p.gpuMilli}/${p.gpuCount}/${type}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { shape: p, type, count: 1, memSum: p.memoryMiB ?? 0 });
    else {
      g.count++;
      g.memSum += p.memoryMiB ?? 0;
    }
  }
  const list = [...groups.values()].sort(
    (a, b) =>
      b.count - a.count ||
      b.shape.cpuMillis - a.shape.cpuMillis ||
      b.shape.gpuMilli - a.shape.gpuMilli ||
      b.shape.gpuCount - a.shape.gpuCount ||
      (a.type < b.type ? 1 : a.type > b.type ? -1 : 0),
  );
  const total = pods.length;
  if (total === 0) return [];
  const expected = coverage * total;
  let cum = 0;
  let i = 0;
  // The simulator adds one shape at a time (podIncreaseStep 1) while the cover is below the threshold.
  while (cum < expected && i < list.length) cum += list[i++]?.count ?? 0;
  const kept = list.slice(0, i);
  const share = cum / total;
  return kept.map((g) => ({
    cpuMillis: g.shape.cpuMillis,
    gpuMilli: g.shape.gpuMilli,
    gpuCount: g.shape.gpuCount,
    gpuModels: [...g.shape.gpuModels],
    memoryMiB: Math.round(g.memSum / g.count),
    weight: g.count / total / share,
  }));
}

/**
 * A placement request as a mix pod (for `targetMixFromPods` over recent requests): a memory-sized
 * share counts as the milli it implies on a GPU of `gpuMemoryMiB`.
 */
export function mixPodOfRequest(req: PlacementRequest, gpuMemoryMiB: number): MixPod {
  const base = { cpuMillis: req.cpuMillis, gpuModels: req.gpuModels, memoryMiB: req.memoryMiB };
  if (req.gpuCount > 0) return { ...base, gpuMilli: MILLI_PER_GPU, gpuCount: req.gpuCount };
  if (req.gpuMilli > 0) return { ...base, gpuMilli: Math.min(req.gpuMilli, MILLI_PER_GPU), gpuCount: 1 };
  if (req.gpuMemoryMiB > 0)
    return { ...base, gpuMilli: memoryToGpuMilli(req.gpuMemoryMiB, gpuMemoryMiB), gpuCount: 1 };
  return { ...base, gpuMilli: 0, gpuCount: 0 };
}

/**
 * A mix to use when no recent requests are known: whole 1/2/4/8-GPU pods, common shares and a few
 * CPU-only pods, weighted like the Alibaba 2023 trace's classes (FGD Table 1 order of magnitude).
 */
export function defaultTargetMix(): TargetMix {
  const shapes: [number, number, number, number, number][] = [
    // cpuMillis, gpuMilli, gpuCount, memoryMiB, weight
    [8000, 1000, 1, 32768, 0.4],
    [4000, 500, 1, 16384, 0.15],
    [4000, 250, 1, 8192, 0.1],
    [2000, 100, 1, 4096, 0.05],
    [6000, 700, 1, 24576, 0.05],
    [16000, 1000, 2, 65536, 0.04],
    [32000, 1000, 4, 131072, 0.03],
    [64000, 1000, 8, 262144, 0.03],
    [4000, 0, 0, 16384, 0.15],
  ];
  return shapes.map(([cpuMillis, gpuMilli, gpuCount, memoryMiB, weight]) => ({
    cpuMillis,
    gpuMilli,
    gpuCount,
    gpuModels: [],
    memoryMiB,
    weight,
  }));
}

/** A mix in flat arrays, so the per-node fragmentation loop touches no objects. */
export interface CompiledMix {
  readonly size: number;
  readonly cpu: Float64Array;
  readonly mem: Float64Array;
  readonly milli: Int32Array;
  readonly count: Int32Array;
  /** null = any model. */
  readonly models: readonly (readonly string[] | null)[];
  readonly weight: Float64Array;
  readonly source: TargetMix;
}

/** Flattens a mix for the fragmentation loop; shares above 1000 milli are clamped to a whole GPU. */
export function compileMix(mix: TargetMix): CompiledMix {
  const n = mix.length;
  const out = {
    size: n,
    cpu: new Float64Array(n),
    mem: new Float64Array(n),
    milli: new Int32Array(n),
    count: new Int32Array(n),
    models: [] as (readonly string[] | null)[],
    weight: new Float64Array(n),
    source: mix,
  };
  mix.forEach((t, i) => {
    out.cpu[i] = t.cpuMillis;
    out.mem[i] = t.memoryMiB;
    out.milli[i] = t.gpuCount > 0 ? Math.min(Math.max(t.gpuMilli, 1), MILLI_PER_GPU) : 0;
    out.count[i] = t.gpuCount;
    out.models.push(t.gpuModels.length === 0 ? null : t.gpuModels);
    out.weight[i] = t.weight;
  });
  return out;
}
