import { describe, expect, it } from 'vitest';
import {
  applyPlacement,
  bestFitGpus,
  CapacityError,
  chargeGrants,
  releaseGrants,
  releasePlacement,
  takesToGrants,
} from '../../../../allocator/scheduler/placement/index.ts';
import { gpu, node, req } from './helpers.ts';

/** The error a write throws, for a look at its context. */
function thrownBy(write: () => void): unknown {
  try {
    write();
  } catch (e) {
    return e;
  }
  throw new Error('expected the write to throw');
}

describe('mutate: the one writer of free capacity', () => {
  it('apply and release keep the books and refuse to over-commit', () => {
    const n = node('n', [gpu(0, 1000)], { cpuMillis: 4000, memoryMiB: 4000 });
    const r = req({ gpuMilli: 600, cpuMillis: 3000, memoryMiB: 3000 });
    const takes = bestFitGpus(n, r);
    applyPlacement(n, takes, r);
    expect(n.gpus[0]).toMatchObject({ freeMilli: 400, freeMemoryMiB: 4000 });
    expect(n.cpuFreeMillis).toBe(1000);
    expect(() =>
      applyPlacement(n, [{ index: 0, gpuMilli: 500, memoryMiB: 0 }], req({ cpuMillis: 0, memoryMiB: 0 })),
    ).toThrow(/over-commit/);
    expect(() => applyPlacement(n, [], req({ cpuMillis: 2000 }))).toThrow(/over-commit/);
    releasePlacement(n, takes, r);
    expect(n.gpus[0]).toMatchObject({ freeMilli: 1000, freeMemoryMiB: 10_000 });
    expect(() => releasePlacement(n, takes, r)).toThrow(/exceeds/);
    applyPlacement(n, takes, r);
    releaseGrants(n, takesToGrants(n, takes), r);
    expect(n.cpuFreeMillis).toBe(4000);
  });

  it('an over-commit names the node, the GPU and what was asked against what was free', () => {
    const n = node('n', [gpu(0, 400)]);
    const e = thrownBy(() => applyPlacement(n, [{ index: 0, gpuMilli: 500, memoryMiB: 0 }], req()));
    expect(e).toBeInstanceOf(CapacityError);
    expect(e).toMatchObject({ node: 'n', gpu: 0 });
    expect(String(e)).toMatch(
      /node n GPU 0: placing would over-commit it \(needs 500 milli and 0 MiB, 400 and 4000 free\)/,
    );
    const cpu = thrownBy(() => applyPlacement(n, [], req({ cpuMillis: 64_001 })));
    expect(cpu).toMatchObject({ node: 'n', gpu: undefined });
    expect(String(cpu)).toMatch(/needs 64001 mCPU and 1000 MiB, 64000 and 256000 free/);
    // Nothing was written by the refused writes.
    expect([n.gpus[0]?.freeMilli, n.cpuFreeMillis]).toEqual([400, 64_000]);
  });

  it('refuses an unhealthy GPU, a GPU the node lacks, one GPU named twice past its free, and negative amounts', () => {
    const n = node('n', [gpu(0, 1000), gpu(1, 1000, { healthy: false })]);
    expect(() => applyPlacement(n, [{ index: 1, gpuMilli: 100, memoryMiB: 0 }], req())).toThrow(/unhealthy/);
    expect(() => applyPlacement(n, [{ index: 7, gpuMilli: 100, memoryMiB: 0 }], req())).toThrow(
      /node n GPU 7: no such GPU/,
    );
    const half = { index: 0, gpuMilli: 600, memoryMiB: 0 };
    expect(() => applyPlacement(n, [half, half], req())).toThrow(/needs 1200 milli/);
    expect(() => applyPlacement(n, [{ index: 0, gpuMilli: -1, memoryMiB: 0 }], req())).toThrow(/negative/);
    expect(() => releasePlacement(n, [], req({ cpuMillis: -1 }))).toThrow(/negative/);
    expect(n.gpus[0]?.freeMilli).toBe(1000);
  });

  it('charges a running pod as it is, even past what is free, and its release gives exactly that back', () => {
    // The node came back with less CPU and a GPU gone unhealthy under the pod; a grant names a GPU
    // the node no longer reports at all.
    const n = node('n', [gpu(0, 1000, { healthy: false })], { cpuMillis: 1000 });
    const grants = [
      { uuid: 'n-gpu-0', gpuMilli: 1000, memoryMiB: 10_000, memoryLimitMiB: 10_000 },
      { uuid: 'gone', gpuMilli: 1000, memoryMiB: 10_000, memoryLimitMiB: 10_000 },
    ];
    const r = req({ cpuMillis: 3000, memoryMiB: 0 });
    chargeGrants(n, grants, r);
    expect([n.cpuFreeMillis, n.gpus[0]?.freeMilli, n.gpus[0]?.freeMemoryMiB]).toEqual([-2000, 0, 0]);
    releaseGrants(n, grants, r);
    expect([n.cpuFreeMillis, n.gpus[0]?.freeMilli, n.gpus[0]?.freeMemoryMiB]).toEqual([1000, 1000, 10_000]);
    expect(() => releaseGrants(n, grants, r)).toThrow(/release exceeds/);
  });

  it('grants carry the take, with the memory limit the caller sets per GPU', () => {
    const n = node('n', [gpu(0), gpu(1)]);
    const takes = [{ index: 1, gpuMilli: 250, memoryMiB: 2500 }];
    expect(takesToGrants(n, takes)).toEqual([
      { uuid: 'n-gpu-1', gpuMilli: 250, memoryMiB: 2500, memoryLimitMiB: 2500 },
    ]);
    expect(takesToGrants(n, takes, (g) => g.memoryMiB)[0]?.memoryLimitMiB).toBe(10_000);
  });
});
