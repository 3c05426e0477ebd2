import { describe, expect, it } from 'vitest';
import {
  bestFitGpus,
  explainNoFit,
  firstWholeGpus,
  fits,
  gpuFitsShare,
  shareMilliOn,
  shareTake,
} from '../../../../allocator/scheduler/placement/index.ts';
import { gpu, gpus, node, req } from './helpers.ts';

describe('fit', () => {
  it('a workload with an image fits only nodes whose agent runs containers, and explain says so', () => {
    const containers = node('c', [gpu(0)], { labels: { 'tessera.io/runtime': 'container' } });
    const processes = node('p', [gpu(0)], { labels: { 'tessera.io/runtime': 'process' } });
    const unlabelled = node('u', [gpu(0)]);
    const image = req({ gpuCount: 1, needsContainer: true });
    expect([containers, processes, unlabelled].map((n) => fits(n, image))).toEqual([true, false, false]);
    // A workload without an image runs on either runtime.
    expect([containers, processes, unlabelled].map((n) => fits(n, req({ gpuCount: 1 })))).toEqual([
      true,
      true,
      true,
    ]);
    expect(explainNoFit([processes, unlabelled], processes.pool, image)).toMatch(
      /no node in pool ".*" runs containers, and the workload has an image: start agents there with --runtime container/,
    );
  });

  it('a share fits a GPU with exactly its milli free and not one milli less (1000 milli cap)', () => {
    const n = node('n', [gpu(0, 300)]);
    expect(fits(n, req({ gpuMilli: 300 }))).toBe(true);
    expect(fits(n, req({ gpuMilli: 301 }))).toBe(false);
    const full = node('f', [gpu(0, 1000)]);
    expect(fits(full, req({ gpuMilli: 1000 }))).toBe(true);
    expect(shareMilliOn(full.gpus[0]!, req({ gpuMilli: 1500 }))).toBe(1000);
  });

  it('a share also needs the memory its fraction carries on that GPU', () => {
    // 500 milli of a 10,000 MiB GPU carries 5,000 MiB.
    const g = gpu(0, 600, { freeMemoryMiB: 4999 });
    expect(gpuFitsShare(g, req({ gpuMilli: 500 }))).toBe(false);
    expect(gpuFitsShare({ ...g, freeMemoryMiB: 5000 }, req({ gpuMilli: 500 }))).toBe(true);
  });

  it('a memory-sized share needs ceil(memory x 1000 / GPU memory) milli, capped at 1000', () => {
    const g = gpu(0, 1000, { memoryMiB: 3000, freeMemoryMiB: 3000 });
    // 1000 MiB of 3000 MiB: 333.3 -> 334 milli.
    expect(shareMilliOn(g, req({ gpuMemoryMiB: 1000 }))).toBe(334);
    expect(gpuFitsShare({ ...g, freeMilli: 333 }, req({ gpuMemoryMiB: 1000 }))).toBe(false);
    expect(gpuFitsShare({ ...g, freeMilli: 334, freeMemoryMiB: 1000 }, req({ gpuMemoryMiB: 1000 }))).toBe(
      true,
    );
    expect(shareMilliOn(g, req({ gpuMemoryMiB: 9000 }))).toBe(1000);
    expect(shareTake(g, req({ gpuMemoryMiB: 1000 }))).toEqual({ index: 0, gpuMilli: 334, memoryMiB: 1000 });
  });

  it('whole GPUs must be entirely free: compute and memory', () => {
    const n = node('n', [gpu(0), gpu(1, 1000, { freeMemoryMiB: 9999 })]);
    expect(fits(n, req({ gpuCount: 1 }))).toBe(true);
    expect(fits(n, req({ gpuCount: 2 }))).toBe(false);
    expect(firstWholeGpus(n, req({ gpuCount: 1 }))).toEqual([
      { index: 0, gpuMilli: 1000, memoryMiB: 10_000 },
    ]);
  });

  it('skips unhealthy GPUs for whole and shared requests', () => {
    const n = node('n', [gpu(0, 1000, { healthy: false }), gpu(1, 400)]);
    expect(fits(n, req({ gpuCount: 1 }))).toBe(false);
    expect(fits(n, req({ gpuMilli: 500 }))).toBe(false);
    expect(bestFitGpus(n, req({ gpuMilli: 300 }))).toEqual([{ index: 1, gpuMilli: 300, memoryMiB: 3000 }]);
  });

  it('filters GPU model, node type, pool, cordon, CPU and memory', () => {
    const n = node('n', gpus(2, { model: 'H100' }), { nodeType: 'dgx' });
    expect(fits(n, req({ gpuCount: 1, gpuModels: ['A100'] }))).toBe(false);
    expect(fits(n, req({ gpuCount: 1, gpuModels: ['A100', 'H100'] }))).toBe(true);
    expect(fits(n, req({ gpuCount: 1, nodeTypes: ['cpu'] }))).toBe(false);
    expect(fits(n, req({ gpuCount: 1 }), 'other-pool')).toBe(false);
    expect(fits({ ...n, schedulable: false }, req())).toBe(false);
    expect(fits(n, req({ cpuMillis: 64_001 }))).toBe(false);
    expect(fits(n, req({ memoryMiB: 256_001 }))).toBe(false);
    // A CPU-only pod ignores the GPU model filter: it takes no GPU.
    expect(fits(n, req({ gpuModels: ['A100'] }))).toBe(true);
  });

  it('best fit takes the tightest GPU that fits, lowest index on ties', () => {
    const n = node('n', [gpu(0, 800), gpu(1, 400), gpu(2, 400), gpu(3, 200)]);
    expect(bestFitGpus(n, req({ gpuMilli: 300 }))[0]?.index).toBe(1);
  });
});
