import { describe, expect, it } from 'vitest';
import {
  compileMix,
  fgdScoreOfDelta,
  fragAmountOf,
  fragView,
  mixPodOfRequest,
  type NodeState,
  type PolicyContext,
  type Rng,
  SCORE_POLICIES,
  type TargetMix,
  targetMixFromPods,
} from '../../../../allocator/scheduler/placement/index.ts';
import {
  bestFitRawScore,
  minMaxNormalize,
} from '../../../../allocator/scheduler/placement/policies/best-fit.ts';
import { dotProductScore } from '../../../../allocator/scheduler/placement/policies/dot-product.ts';
import { fgdEvaluate } from '../../../../allocator/scheduler/placement/policies/fgd.ts';
import {
  balancedFragAmountOf,
  fragmentationAwareEvaluate,
} from '../../../../allocator/scheduler/placement/policies/fragmentation-aware.ts';
import { gpuPackingScore } from '../../../../allocator/scheduler/placement/policies/gpu-packing.ts';
import { randomGpus } from '../../../../allocator/scheduler/placement/policies/random.ts';
import { gpu, gpus, node, req } from './helpers.ts';

function ctxOf(mix: TargetMix, rng?: Rng): PolicyContext {
  const compiled = compileMix(mix);
  return { mix: compiled, rng, memo: (n, measure) => measure(n, compiled) };
}

function shape(cpuMillis: number, gpuMilli: number, gpuCount: number, weight: number, memoryMiB = 0) {
  return { cpuMillis, gpuMilli, gpuCount, gpuModels: [], memoryMiB, weight };
}

/** Used GPUs: `used` of `n` GPUs are taken whole. */
function partly(n: number, used: number): NodeState {
  return node('n', [...gpus(n - used), ...Array.from({ length: used }, (_, i) => gpu(n - used + i, 0))]);
}

describe('gpu-packing (fgd-method.md §4.3)', () => {
  it('scores nodes whose GPUs are all free max(33 - n, n): 1/2/4/8 GPUs -> 32/31/29/25', () => {
    expect([1, 2, 4, 8].map((n) => gpuPackingScore(node('n', gpus(n)), req({ gpuCount: 1 })))).toEqual([
      32, 31, 29, 25,
    ]);
  });

  it('scores fully free GPUs on a used node max(50 - #used free GPUs, 33)', () => {
    expect(gpuPackingScore(partly(8, 3), req({ gpuCount: 1 }))).toBe(49);
    expect(gpuPackingScore(partly(8, 3), req({ gpuCount: 4 }))).toBe(46);
  });

  it('scores sharing a used GPU max(100 - sum(floor(free x 100 / 1000)) / 10, 50), least free first', () => {
    const n = node('n', [gpu(0, 600), gpu(1, 300), gpu(2, 100)]);
    // 200 milli fits GPU 1 (300 free) first: floor(300 x 100 / 1000) = 30, / 10 = 3.
    expect(gpuPackingScore(n, req({ gpuMilli: 200 }))).toBe(97);
    expect(gpuPackingScore(node('n', [gpu(0, 1000), gpu(1, 100)]), req({ gpuMilli: 200 }))).toBe(49);
  });

  it('scores CPU-only pods 0 everywhere', () => {
    expect(gpuPackingScore(node('n', gpus(8)), req())).toBe(0);
  });
});

describe('best-fit (fgd-method.md §4.2)', () => {
  it('computes int((1 - [0.5 cpuLeft/128000 + 0.5 gpuLeft/8000]) x 100) before normalisation', () => {
    // (56000/128000) x 0.5 + (7000/8000) x 0.5 = 0.65625 -> 34.375 -> 34.
    const n = node('n', gpus(8), { cpuMillis: 64_000 });
    expect(bestFitRawScore(n, req({ gpuCount: 1, cpuMillis: 8000 }))).toBe(34);
  });

  it('normalises min-max to 0..100 with integer division, all 0 when flat', () => {
    const s = [34, 50, 42, 37];
    minMaxNormalize(s);
    expect(s).toEqual([0, 100, 50, 18]);
    const flat = [7, 7];
    minMaxNormalize(flat);
    expect(flat).toEqual([0, 0]);
  });
});

describe('dot-product (Tetris, simulator merge + max normalisation)', () => {
  it('scores int(100 x (1 - (free . request) / 2)) on [cpu/128000, gpu/8000]', () => {
    // node [0.5, 0.5], pod [0.125, 0.125]: dot 0.125, / 2 = 0.0625 -> 93.75 -> 93.
    const n = node('n', [...gpus(4), gpu(4, 0), gpu(5, 0), gpu(6, 0), gpu(7, 0)], { cpuMillis: 64_000 });
    expect(dotProductScore(n, req({ gpuCount: 1, cpuMillis: 16_000 }))).toBe(93);
  });
});

describe('fgd (fgd-method.md §4.4)', () => {
  // Half the target pods want 500 milli and 4 cores, half are CPU-only.
  const mix: TargetMix = [shape(4000, 500, 1, 0.5), shape(2000, 0, 0, 0.5)];

  it('measures F(n): slivers below m_t for hostable targets, all idle GPU for CPU-only targets', () => {
    const n = node('n', [gpu(0, 1000), gpu(1, 300)], { cpuMillis: 8000 });
    // target 1: hostable (GPU 0 has 1000 >= 500, CPU 8000 >= 4000) -> 300; CPU-only -> 1300.
    expect(fragAmountOf(fragView(n), compileMix(mix))).toBe(0.5 * 300 + 0.5 * 1300);
    // Without CPU for the target, all idle GPU is a fragment for it.
    expect(fragAmountOf({ ...fragView(n), cpuFree: 3999 }, compileMix(mix))).toBe(1300);
  });

  it('scores int(100 sigmoid(dF / 1000)) and takes the first GPU reaching the best score', () => {
    expect(fgdScoreOfDelta(0)).toBe(50);
    expect(fgdScoreOfDelta(4600)).toBe(99);
    const n = node('n', [gpu(0, 1000), gpu(1, 300)], { cpuMillis: 8000 });
    // On GPU 1: F 800 -> 600 (dF 200, score 54); on GPU 0: F 800 -> 700 (dF 100, score 52).
    const r = fgdEvaluate(n, req({ gpuMilli: 200 }), ctxOf(mix));
    expect(r.score).toBe(54);
    expect(r.gpus).toEqual([{ index: 1, gpuMilli: 200, memoryMiB: 2000 }]);
  });

  it('builds the target mix from the most frequent shapes covering 95 % of pods, renormalised', () => {
    const pods = [
      ...Array.from({ length: 60 }, () => ({ cpuMillis: 1000, gpuMilli: 500, gpuCount: 1, gpuModels: [] })),
      ...Array.from({ length: 36 }, () => ({ cpuMillis: 2000, gpuMilli: 0, gpuCount: 0, gpuModels: [] })),
      ...Array.from({ length: 4 }, () => ({ cpuMillis: 8000, gpuMilli: 1000, gpuCount: 8, gpuModels: [] })),
    ];
    const m = targetMixFromPods(pods);
    expect(m.map((t) => [t.cpuMillis, t.gpuCount])).toEqual([
      [1000, 1],
      [2000, 0],
    ]);
    expect(m[0]?.weight).toBeCloseTo(60 / 96);
    expect(m[1]?.weight).toBeCloseTo(36 / 96);
  });
});

describe('random (fgd-method.md §4.1)', () => {
  it('draws the winner among feasible nodes and picks a share GPU by reservoir sampling', () => {
    const draws: number[] = [];
    const rng: Rng = {
      intn: (n) => {
        draws.push(n);
        return n - 1;
      },
      float64: () => 0,
    };
    expect(SCORE_POLICIES.random.prescore?.(5, ctxOf([], rng))).toBe(4);
    const n = node('n', [gpu(0, 500), gpu(1, 100), gpu(2, 900)]);
    // GPUs 0 and 2 fit 400: draws intn(1) then intn(2); only the first draw returns 0.
    expect(randomGpus(n, req({ gpuMilli: 400 }), rng)[0]?.index).toBe(0);
    expect(draws).toEqual([5, 1, 2]);
  });
});

describe('fragmentation-aware', () => {
  it('counts a target as hostable only with its CPU and memory, and adds the GPUs filling would strand', () => {
    const mix = compileMix([shape(4000, 1000, 1, 1, 60_000)]);
    const v = {
      free: [1000, 1000],
      models: ['A100', 'A100'],
      cpuFree: 10_000,
      memFree: 100_000,
      sameModel: 'A100',
    };
    // Hostable now (FGD term 0), but memory holds one copy: 1000 milli stranded x 0.25.
    expect(balancedFragAmountOf(v, mix)).toBe(250);
    expect(balancedFragAmountOf({ ...v, memFree: 120_000 }, mix)).toBe(0);
    // Without memory for even one copy the whole node is a fragment, in both terms.
    expect(balancedFragAmountOf({ ...v, memFree: 50_000 }, mix)).toBe(2000 * 1.25);
  });

  it('sends a CPU-only pod where CPU and memory outlast the GPUs, where FGD sees a tie', () => {
    const mix: TargetMix = [shape(12_000, 1000, 1, 0.9, 48_000), shape(12_000, 0, 0, 0.1, 48_000)];
    // "a-g2": 8 GPUs with 12 cores and 48 GB each; "b-t4": 2 GPUs with CPU and memory to spare.
    const g2 = node('a-g2', gpus(8), { cpuMillis: 96_000, memoryMiB: 384_000 });
    const t4 = node('b-t4', gpus(2), { cpuMillis: 104_000, memoryMiB: 512_000 });
    const cpuPod = req({ cpuMillis: 12_000, memoryMiB: 48_000 });
    const ctx = ctxOf(mix);
    expect(fgdEvaluate(g2, cpuPod, ctx).score).toBe(fgdEvaluate(t4, cpuPod, ctx).score);
    expect(fragmentationAwareEvaluate(t4, cpuPod, ctx).score).toBeGreaterThan(
      fragmentationAwareEvaluate(g2, cpuPod, ctx).score,
    );
  });
});

describe('fragmentation-aware: only demand that can use a node counts', () => {
  const view = (free: number[], model: string) => ({
    free,
    models: free.map(() => model),
    cpuFree: 64_000,
    memFree: 256_000,
    sameModel: model,
  });
  const pinned = (model: string, gpuMilli: number, gpuCount: number, weight: number) => ({
    ...shape(1000, gpuMilli, gpuCount, weight),
    gpuModels: [model],
  });

  it('adds nothing for a target pinned to another model, where FGD counts every idle GPU', () => {
    const mix = compileMix([pinned('G2', 1000, 1, 0.5), shape(1000, 500, 1, 0.5)]);
    const t4 = view([1000, 300], 'T4');
    // FGD: G2-pinned 0.5 x 1300 + the 300 sliver the 500 share cannot use, 0.5 x 300.
    expect(fragAmountOf(t4, mix)).toBe(800);
    // Here only the share counts: FGD term 150, lookahead 0.25 x 0.5 x 300 (two 500s fill 1000).
    expect(balancedFragAmountOf(t4, mix)).toBe(150 + 37.5);
    // On its own model the pinned target counts as before.
    expect(balancedFragAmountOf(view([1000, 300], 'G2'), mix)).toBe(
      150 + 0.5 * 300 + 37.5 + 0.25 * 0.5 * 300,
    );
  });

  it('adds nothing for a target wanting more GPUs than the node has', () => {
    const mix = compileMix([shape(1000, 1000, 8, 0.5), shape(1000, 1000, 1, 0.5)]);
    expect(fragAmountOf(view([1000, 1000], 'T4'), mix)).toBe(1000);
    expect(balancedFragAmountOf(view([1000, 1000], 'T4'), mix)).toBe(0);
  });

  it("counts a multi-GPU target's whole GPUs left over k-GPU pieces, its CPU left to FGD's test", () => {
    const mix = compileMix([shape(40_000, 1000, 4, 1)]);
    // 5 free GPUs and CPU for one copy: one 4-GPU piece, one GPU stranded for the lookahead.
    expect(balancedFragAmountOf(view([1000, 1000, 1000, 1000, 1000], 'G2'), mix)).toBe(0.25 * 1000);
    // CPU for no copy: FGD's term makes all idle a fragment; the lookahead still counts the remainder only.
    const starved = { ...view([1000, 1000, 1000, 1000, 1000], 'G2'), cpuFree: 10_000 };
    expect(balancedFragAmountOf(starved, mix)).toBe(5000 + 0.25 * 1000);
  });
  it('keeps the last GPU a pinned target can use, where FGD spends it on an unpinned pod', () => {
    // A third of the demand wants half a G2, two thirds half a T4. An unpinned 300 share fits both.
    const mix: TargetMix = [pinned('G2', 500, 1, 1 / 3), pinned('T4', 500, 1, 2 / 3)];
    const t4 = node('a-t4', [gpu(0, 1000, { model: 'T4' })]);
    const g2 = node('b-g2', [gpu(0, 500, { model: 'G2' })]);
    const pod = req({ gpuMilli: 300 });
    const ctx = ctxOf(mix);
    // FGD counts the G2's idle half as a fragment of the T4 demand, so "removing" it looks best:
    // the G2 is left with 200, and G2-pinned pods fit nowhere.
    expect(fgdEvaluate(g2, pod, ctx).score).toBeGreaterThan(fgdEvaluate(t4, pod, ctx).score);
    // Counting only demand that can use each node, the T4 (700 left, still a home for T4 pods) wins.
    expect(fragmentationAwareEvaluate(t4, pod, ctx).score).toBeGreaterThan(
      fragmentationAwareEvaluate(g2, pod, ctx).score,
    );
  });

  it('keeps the only GPU of a pinned model, where FGD fills it with a whole-GPU pod', () => {
    // A third of the demand wants 300 of a T4; two thirds want 2 whole GPUs of any model.
    const mix: TargetMix = [pinned('T4', 300, 1, 1 / 3), shape(1000, 1000, 2, 2 / 3)];
    const g2 = node('a-g2', [
      gpu(0, 1000, { model: 'G2' }),
      gpu(1, 0, { model: 'G2' }),
      ...[2, 3].map((i) => gpu(i, 1000, { model: 'G2' })),
    ]);
    const t4 = node('b-t4', [gpu(0, 1000, { model: 'T4' })]);
    const pod = req({ gpuCount: 1 });
    const ctx = ctxOf(mix);
    // FGD: the one-GPU T4 node counts all its idle GPU as a fragment of the 2-GPU demand.
    expect(fgdEvaluate(t4, pod, ctx).score).toBeGreaterThan(fgdEvaluate(g2, pod, ctx).score);
    // Here the G2 takes it (2 whole GPUs left for a 2-GPU pod) and the T4 stays for its pinned pods.
    expect(fragmentationAwareEvaluate(g2, pod, ctx).score).toBeGreaterThan(
      fragmentationAwareEvaluate(t4, pod, ctx).score,
    );
  });
});

describe('mixPodOfRequest', () => {
  it('reads whole GPUs as 1000 milli each, shares as their milli, memory shares on the given GPU', () => {
    expect(mixPodOfRequest(req({ gpuCount: 2 }), 80_000)).toMatchObject({ gpuMilli: 1000, gpuCount: 2 });
    expect(mixPodOfRequest(req({ gpuMilli: 300 }), 80_000)).toMatchObject({ gpuMilli: 300, gpuCount: 1 });
    expect(mixPodOfRequest(req({ gpuMemoryMiB: 20_000 }), 80_000)).toMatchObject({
      gpuMilli: 250,
      gpuCount: 1,
    });
    expect(mixPodOfRequest(req({ cpuMillis: 3000 }), 80_000)).toMatchObject({
      gpuMilli: 0,
      gpuCount: 0,
      cpuMillis: 3000,
    });
  });
});
