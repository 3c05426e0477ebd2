/** `GET /top`'s view: a GPU's measured use split among its pods by their share, summed per workload. */
import { describe, expect, it } from 'vitest';
import { createGpuSampleCache } from '../../../allocator/service/gpu-samples.ts';
import { topView } from '../../../allocator/service/top.ts';
import type { NodeRecord } from '../../../allocator/store/nodes.ts';
import type { PodRecord } from '../../../allocator/store/pods.ts';
import type { WorkloadRecord } from '../../../allocator/store/workloads.ts';

const node = {
  name: 'n1',
  lost: false,
  gpus: [
    { uuid: 'G0', index: 0, model: 'H100', memoryMiB: 80_000, healthy: true },
    { uuid: 'G1', index: 1, model: 'H100', memoryMiB: 80_000, healthy: true },
  ],
} as NodeRecord;

const pod = (workload: string, name: string, grants: [string, number][], phase = 'Running') =>
  ({
    workload,
    name,
    node: 'n1',
    phase,
    grants: grants.map(([uuid, gpuMilli]) => ({ uuid, gpuMilli, memoryMiB: 0, memoryLimitMiB: 0 })),
  }) as PodRecord;

const wl = (id: string) => ({ id, name: `${id}-name`, project: 'p', phase: 'Running' }) as WorkloadRecord;

const sample = (uuid: string, index: number, util: number, used: number) => ({
  uuid,
  index,
  utilizationPct: util,
  memoryUsedMiB: used,
  memoryTotalMiB: 80_000,
  temperatureC: null,
  powerDrawW: null,
});

describe('top view', () => {
  it('splits a shared GPU by fraction and sums a workload over its GPUs', () => {
    const cache = createGpuSampleCache();
    cache.record('n1', [sample('G0', 0, 80, 40_000), sample('G1', 1, 50, 10_000)], 1000);
    const pods = [
      pod('a', 'a-0', [['G0', 750]]),
      pod('b', 'b-0', [['G0', 250]]),
      pod('b', 'b-1', [['G1', 1000]]),
      pod('c', 'c-0', [['G1', 1000]], 'Succeeded'),
    ];
    const t = topView([node], pods, [wl('a'), wl('b'), wl('c')], (n) => cache.get(n));
    const g0 = t.nodes[0]?.gpus[0];
    expect(g0?.pods.map((p) => [p.pod, p.utilizationPct, p.memoryUsedMiB])).toEqual([
      ['a-0', 60, 30_000],
      ['b-0', 20, 10_000],
    ]);
    expect(t.workloads).toEqual([
      expect.objectContaining({
        id: 'a',
        pods: 1,
        gpus: 0.75,
        gpuUtilizationPct: 60,
        gpuMemoryUsedMiB: 30_000,
      }),
      expect.objectContaining({
        id: 'b',
        pods: 2,
        gpus: 1.25,
        gpuUtilizationPct: 70,
        gpuMemoryUsedMiB: 20_000,
      }),
    ]);
    expect(t.nodes[0]?.sampledAt).toBe(new Date(1000).toISOString());
  });

  it('shows a node with no sample yet with null readings and its inventory memory', () => {
    const t = topView([node], [], [], () => undefined);
    expect(t.nodes[0]).toMatchObject({ sampledAt: null });
    expect(t.nodes[0]?.gpus[0]).toMatchObject({
      utilizationPct: null,
      memoryUsedMiB: null,
      memoryTotalMiB: 80_000,
    });
  });
});
