import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTraceNodes, readTracePods, type TraceNode, type TracePod } from '../../sim/trace.ts';
import {
  demandShare,
  isMultiGpu,
  isSharing,
  parseVariantName,
  VARIANT_NAMES,
  variantPods,
  withCpuOnlyFactor,
  withDemandShare,
  withGpuSpec,
} from '../../sim/variants.ts';

const TRACES = new URL('../fixtures/traces/alibaba-gpu-v2023/', import.meta.url);

function readTrace(): { nodes: TraceNode[]; pods: TracePod[] } {
  const nodes = readTraceNodes(
    readFileSync(new URL('openb_node_list_gpu_node.csv', TRACES), 'utf8'),
    'nodes',
  );
  const pods = readTracePods(readFileSync(new URL('openb_pod_list_default.csv', TRACES), 'utf8'), 'pods');
  if (!nodes.ok || !pods.ok) throw new Error('the fixture trace does not parse');
  return { nodes: nodes.value, pods: pods.value };
}

function pod(name: string, numGpu: number, gpuMilli: number, cpuMillis = 1000): TracePod {
  return { name, cpuMillis, memoryMiB: 1000, numGpu, gpuMilli, gpuSpec: [] };
}

function gpuDemand(pods: readonly TracePod[]): number {
  return pods.reduce((s, p) => s + p.numGpu * p.gpuMilli, 0);
}

describe('withDemandShare', () => {
  const small = [
    ...Array.from({ length: 40 }, (_, i) => pod(`one-${i}`, 1, 1000)),
    ...Array.from({ length: 20 }, (_, i) => pod(`share-${i}`, 1, 500)),
    pod('multi-0', 4, 1000),
    pod('cpu-0', 0, 0),
  ];

  it('gives the class its share of GPU demand and keeps the total and the CPU-only pods', () => {
    const out = withDemandShare(small, isMultiGpu, 0.4);
    // Total 54 GPUs; multi-GPU pods (4 GPUs each) now carry about 40 %, within one pod.
    expect(Math.abs(gpuDemand(out) - gpuDemand(small))).toBeLessThanOrEqual(4000);
    expect(demandShare(out, isMultiGpu)).toBeGreaterThanOrEqual(0.4);
    expect(demandShare(out, isMultiGpu)).toBeLessThan(0.4 + 4000 / gpuDemand(small));
    expect(out.filter((p) => p.numGpu === 0).map((p) => p.name)).toEqual(['cpu-0']);
    // Copies carry their source's shape and a new name; nothing is renamed twice.
    expect(new Set(out.map((p) => p.name)).size).toBe(out.length);
    expect(out.filter(isMultiGpu).every((p) => p.numGpu === 4 && p.cpuMillis === 1000)).toBe(true);
  });

  it('is a fixed trace: the same input and seed give the same pods', () => {
    expect(withDemandShare(small, isSharing, 0.5)).toEqual(withDemandShare(small, isSharing, 0.5));
    expect(withDemandShare(small, isSharing, 0.5, 1)).not.toEqual(withDemandShare(small, isSharing, 0.5, 2));
  });

  it('refuses a share outside (0, 1) and a class with no pods', () => {
    expect(() => withDemandShare(small, isMultiGpu, 1)).toThrow(/between 0 and 1/);
    expect(() => withDemandShare([pod('a', 1, 1000)], isMultiGpu, 0.3)).toThrow(/both in and outside/);
  });
});

describe('withGpuSpec', () => {
  const nodes: TraceNode[] = [
    { name: 'n-big', cpuMillis: 96_000, memoryMiB: 400_000, gpuCount: 8, model: 'G2' },
    { name: 'n-small', cpuMillis: 16_000, memoryMiB: 100_000, gpuCount: 2, model: 'P100' },
  ];

  it('pins the given fraction of GPU pods to one model a node of it can host', () => {
    const pods = [
      ...Array.from({ length: 60 }, (_, i) => pod(`p-${String(i).padStart(2, '0')}`, 1, 500)),
      ...Array.from({ length: 30 }, (_, i) => pod(`m-${i}`, 4, 1000)),
      ...Array.from({ length: 10 }, (_, i) => pod(`c-${i}`, 0, 0)),
    ];
    const out = withGpuSpec(pods, nodes, 1 / 3);
    const pinned = out.filter((p) => p.gpuSpec.length > 0);
    expect(pinned.length).toBe(30);
    expect(out.filter((p) => p.numGpu === 0).every((p) => p.gpuSpec.length === 0)).toBe(true);
    // A 4-GPU pod fits only the 8-GPU G2 node; one-GPU pods may land on either model.
    expect(pinned.filter((p) => p.numGpu === 4).every((p) => p.gpuSpec[0] === 'G2')).toBe(true);
    expect(pinned.every((p) => p.gpuSpec.length === 1)).toBe(true);
    // The input is left as it was.
    expect(pods.every((p) => p.gpuSpec.length === 0)).toBe(true);
  });

  it('draws models in proportion to their GPUs', () => {
    const pods = Array.from({ length: 3000 }, (_, i) => pod(`p-${i}`, 1, 1000));
    const out = withGpuSpec(pods, nodes, 1);
    const onG2 = out.filter((p) => p.gpuSpec[0] === 'G2').length / out.length;
    // G2 holds 8 of the 10 GPUs.
    expect(onG2).toBeGreaterThan(0.76);
    expect(onG2).toBeLessThan(0.84);
  });
});

describe('withCpuOnlyFactor', () => {
  it('multiplies the CPU-only pods and leaves the GPU pods alone', () => {
    const pods = [pod('a', 1, 1000), pod('b', 0, 0), pod('c', 0, 0)];
    const out = withCpuOnlyFactor(pods, 2);
    expect(out.filter((p) => p.numGpu === 0)).toHaveLength(4);
    expect(gpuDemand(out)).toBe(gpuDemand(pods));
  });
});

describe('the named variants of the default trace', () => {
  const { nodes, pods } = readTrace();

  it('set the shares they are named for', () => {
    const gpuPods = (ps: TracePod[]) => ps.filter((p) => p.numGpu > 0);
    const pinnedShare = (ps: TracePod[]) =>
      gpuPods(ps).filter((p) => p.gpuSpec.length > 0).length / gpuPods(ps).length;
    expect(demandShare(pods, isMultiGpu)).toBeCloseTo(0.073, 3);
    expect(pinnedShare(variantPods('constrained33', pods, nodes))).toBeCloseTo(1 / 3, 3);
    expect(demandShare(variantPods('multigpu30', pods, nodes), isMultiGpu)).toBeCloseTo(0.3, 2);
    expect(demandShare(variantPods('multigpu40', pods, nodes), isMultiGpu)).toBeCloseTo(0.4, 2);
    const both = variantPods('constrained33-multigpu30', pods, nodes);
    expect(demandShare(both, isMultiGpu)).toBeCloseTo(0.3, 2);
    expect(pinnedShare(both)).toBeCloseTo(1 / 3, 3);
    expect(demandShare(variantPods('gpushare40', pods, nodes), isSharing)).toBeCloseTo(0.4, 2);
    const heavy = variantPods('cpu-heavy', pods, nodes);
    expect(heavy.filter((p) => p.numGpu === 0)).toHaveLength(2 * pods.filter((p) => p.numGpu === 0).length);
    // Every variant keeps the trace's GPU demand (within one 8-GPU pod).
    for (const v of VARIANT_NAMES)
      expect(Math.abs(gpuDemand(variantPods(v, pods, nodes)) - gpuDemand(pods))).toBeLessThanOrEqual(8000);
  });

  it('pin no pod to a model that cannot host it', () => {
    for (const p of variantPods('constrained33-multigpu30', pods, nodes)) {
      if (p.gpuSpec.length === 0) continue;
      const hostable = nodes.some(
        (n) =>
          p.gpuSpec.includes(n.model) &&
          n.gpuCount >= p.numGpu &&
          n.cpuMillis >= p.cpuMillis &&
          n.memoryMiB >= p.memoryMiB,
      );
      expect(hostable, p.name).toBe(true);
    }
  });

  it('parses names and says which exist', () => {
    expect(parseVariantName('multigpu40')).toEqual({ ok: true, value: 'multigpu40' });
    const bad = parseVariantName('multigpu99');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/use one of default, constrained33/);
  });
});
