/**
 * The usage history's pure core: the ring keeps exactly its window, a series absent from a sample
 * has a gap there and is dropped once a whole window has none of it, capacity is kept only where it
 * changes, and queries aggregate into aligned buckets. Then the sample itself: GPUs allocated per
 * project, pool and node with fractions counted, and utilization as `tessera top` splits it.
 */
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  createHistory,
  type HistoryKind,
  type HistoryPoint,
  type HistorySample,
  type HistoryValue,
  historyCapacity,
} from '../../../allocator/service/history.ts';
import { historySample } from '../../../allocator/service/history-points.ts';
import type { TopGpu, TopNode, TopView } from '../../../allocator/service/top.ts';
import type { QueueRecord, QuotaRecord } from '../../../allocator/store/org.ts';

const MIN = 60_000;
// Aligned to 3 minutes, so aggregated buckets start on samples.
const T0 = 1_699_999_920_000;

const v = (allocatedGpus: number, capacityGpus = 8, utilizationPct: number | null = null): HistoryValue => ({
  allocatedGpus,
  capacityGpus,
  utilizationPct,
});

/** A sample of nodes only. */
const nodes = (values: Record<string, HistoryValue>): HistorySample =>
  new Map<HistoryKind, Map<string, HistoryValue>>([['node', new Map(Object.entries(values))]]);

describe('usage history ring', () => {
  it('holds window / interval points and lets the oldest fall out', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 5 * MIN });
    expect(h.capacity).toBe(5);
    for (let i = 0; i < 8; i++) h.record(T0 + i * MIN, nodes({ n1: v(i) }));
    const pts = h.points('node', 'n1');
    expect(pts.map((p) => p.allocatedGpus)).toEqual([3, 4, 5, 6, 7]);
    expect(pts.map((p) => p.atMs)).toEqual([3, 4, 5, 6, 7].map((i) => T0 + i * MIN));
  });

  it('a day of one-minute samples is 1440 points', () => {
    expect(historyCapacity({ intervalMs: MIN, windowMs: 24 * 60 * MIN })).toBe(1440);
    expect(historyCapacity({ intervalMs: MIN, windowMs: 10_000 })).toBe(1);
  });

  it('keeps fractions to the milli-GPU and utilization to a tenth of a percent', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 5 * MIN });
    h.record(T0, nodes({ n1: v(0.1 + 0.2, 2.5, 33.333) }));
    expect(h.points('node', 'n1')).toEqual([
      { atMs: T0, allocatedGpus: 0.3, capacityGpus: 2.5, utilizationPct: 33.3 },
    ]);
  });

  it('leaves a gap where a series was absent and drops it after a whole window without it', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 3 * MIN });
    h.record(T0, nodes({ a: v(1), b: v(2) }));
    h.record(T0 + MIN, nodes({ a: v(1) }));
    expect(h.points('node', 'b').map((p) => p.atMs)).toEqual([T0]);
    h.record(T0 + 2 * MIN, nodes({ a: v(1) }));
    // b's one point is still the oldest in the window.
    expect(h.has('node', 'b')).toBe(true);
    expect(h.seriesCount()).toBe(2);
    h.record(T0 + 3 * MIN, nodes({ a: v(1) }));
    expect(h.has('node', 'b')).toBe(false);
    expect(h.points('node', 'b')).toEqual([]);
    expect(h.seriesCount()).toBe(1);
  });

  it('keeps each series apart by kind: a node and a project may share a name', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 3 * MIN });
    h.record(
      T0,
      new Map<HistoryKind, Map<string, HistoryValue>>([
        ['node', new Map([['x', v(1)]])],
        ['project', new Map([['x', v(2)]])],
      ]),
    );
    expect(h.points('node', 'x')[0]?.allocatedGpus).toBe(1);
    expect(h.points('project', 'x')[0]?.allocatedGpus).toBe(2);
    expect(h.points('nodepool', 'x')).toEqual([]);
  });

  it('keeps capacity only where it changes, and gives each point the capacity of its time', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 4 * MIN });
    const caps = [8, 8, 16, 16, 16, 4];
    caps.forEach((c, i) => {
      h.record(T0 + i * MIN, nodes({ n1: v(1, c) }));
    });
    expect(h.points('node', 'n1').map((p) => p.capacityGpus)).toEqual([16, 16, 16, 4]);
  });

  it('refuses a sample older than the newest, keeping time order', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 4 * MIN });
    expect(h.record(T0 + MIN, nodes({ n1: v(1) }))).toBe(true);
    expect(h.record(T0, nodes({ n1: v(2) }))).toBe(false);
    expect(h.record(T0 + MIN, nodes({ n1: v(3) }))).toBe(true);
    expect(h.points('node', 'n1').map((p) => p.allocatedGpus)).toEqual([1, 3]);
  });

  it('answers from a time on, and in aggregated buckets', () => {
    const h = createHistory({ intervalMs: MIN, windowMs: 10 * MIN });
    for (let i = 0; i < 6; i++) h.record(T0 + i * MIN, nodes({ n1: v(i, 8, i % 2 === 0 ? 10 : null) }));
    expect(h.points('node', 'n1', { sinceMs: T0 + 4 * MIN }).map((p) => p.allocatedGpus)).toEqual([4, 5]);
    expect(h.points('node', 'n1', { stepMs: 3 * MIN })).toEqual([
      { atMs: T0, allocatedGpus: 1, capacityGpus: 8, utilizationPct: 10 },
      { atMs: T0 + 3 * MIN, allocatedGpus: 4, capacityGpus: 8, utilizationPct: 10 },
    ]);
  });
});

describe('aggregate', () => {
  const p = (atMs: number, allocatedGpus: number, utilizationPct: number | null): HistoryPoint => ({
    atMs,
    allocatedGpus,
    capacityGpus: 4,
    utilizationPct,
  });

  it('averages allocation over every point and utilization over the readings only', () => {
    const out = aggregate([p(0, 1, 50), p(10, 2, null), p(20, 3, 70), p(30, 4, null), p(40, 5, null)], 30);
    expect(out).toEqual([
      { atMs: 0, allocatedGpus: 2, capacityGpus: 4, utilizationPct: 60 },
      { atMs: 30, allocatedGpus: 4.5, capacityGpus: 4, utilizationPct: null },
    ]);
  });

  it('leaves empty buckets out and refuses a step that is not positive', () => {
    expect(aggregate([p(0, 1, null), p(100, 1, null)], 30).map((b) => b.atMs)).toEqual([0, 90]);
    expect(aggregate([], 30)).toEqual([]);
    expect(() => aggregate([p(0, 1, null)], 0)).toThrow(/positive/);
  });
});

describe('history sample', () => {
  const gpu = (
    uuid: string,
    utilizationPct: number | null,
    pods: [string, number, number | null][],
  ): TopGpu => ({
    uuid,
    index: 0,
    model: 'H100',
    utilizationPct,
    memoryUsedMiB: null,
    memoryTotalMiB: 80_000,
    pods: pods.map(([workload, fraction, util]) => ({
      workload,
      workloadName: workload,
      pod: `${workload}-0`,
      fraction,
      utilizationPct: util,
      memoryUsedMiB: null,
    })),
  });
  const node = (name: string, gpus: TopGpu[], lost = false): TopNode => ({
    name,
    lost,
    sampledAt: null,
    gpus,
  });
  const queue = (name: string, parent: string | null): QueueRecord => ({ name, parent, createdMs: T0 });
  const quota = (queue: string, nodePool: string, gpuMilli: number) =>
    ({ queue, nodePool, deserved: { gpuMilli, cpuMillis: 0, memoryMiB: 0 } }) as QuotaRecord;

  const top: TopView = {
    nodes: [
      // n1: a whole-GPU pod of wa (p1) on G0 at 60%; two halves of wb (p1) and wc (p2) on G1 at 80%.
      node('n1', [
        gpu('G0', 60, [['wa', 1, 60]]),
        gpu('G1', 80, [
          ['wb', 0.5, 40],
          ['wc', 0.5, 40],
        ]),
      ]),
      // n2: an idle GPU with no reading and a GPU with a quarter-GPU pod of wc using 20% of the GPU.
      node('n2', [gpu('G2', null, []), gpu('G3', 20, [['wc', 0.25, 20]])]),
      // n3 is lost: its GPUs hold a pod of wa but its readings are stale.
      node('n3', [gpu('G4', 99, [['wa', 1, 99]])], true),
    ],
    workloads: [
      {
        id: 'wa',
        name: 'wa',
        project: 'p1',
        phase: 'Running',
        pods: 2,
        gpus: 2,
        gpuUtilizationPct: 0,
        gpuMemoryUsedMiB: 0,
      },
      {
        id: 'wb',
        name: 'wb',
        project: 'p1',
        phase: 'Running',
        pods: 1,
        gpus: 0.5,
        gpuUtilizationPct: 0,
        gpuMemoryUsedMiB: 0,
      },
      {
        id: 'wc',
        name: 'wc',
        project: 'p2',
        phase: 'Running',
        pods: 2,
        gpus: 0.75,
        gpuUtilizationPct: 0,
        gpuMemoryUsedMiB: 0,
      },
    ],
  };
  const sample = historySample({
    top,
    poolOfNode: new Map([
      ['n1', 'a100'],
      ['n2', 'a100'],
      ['n3', 'default'],
    ]),
    pools: ['default', 'a100', 'empty'],
    queues: [queue('d1', null), queue('p1', 'd1'), queue('p2', 'd1'), queue('p3', 'd1')],
    quotas: [quota('p1', 'a100', 2000), quota('p1', 'default', 500), quota('d1', 'a100', 4000)],
  });
  const get = (kind: HistoryKind, name: string) => sample.get(kind)?.get(name);

  it('sums a node’s grants with fractions and averages its reported GPUs', () => {
    expect(get('node', 'n1')).toEqual({ allocatedGpus: 2, capacityGpus: 2, utilizationPct: 70 });
    // G2 reported nothing: the mean is over G3 alone.
    expect(get('node', 'n2')).toEqual({ allocatedGpus: 0.25, capacityGpus: 2, utilizationPct: 20 });
    // A lost node still holds its grants, but its stale reading is no reading.
    expect(get('node', 'n3')).toEqual({ allocatedGpus: 1, capacityGpus: 1, utilizationPct: null });
  });

  it('sums a pool over its nodes, counting a lost node’s GPUs out of its capacity', () => {
    expect(get('nodepool', 'a100')).toEqual({ allocatedGpus: 2.25, capacityGpus: 4, utilizationPct: 53.3 });
    expect(get('nodepool', 'default')).toEqual({ allocatedGpus: 1, capacityGpus: 0, utilizationPct: null });
    expect(get('nodepool', 'empty')).toEqual({ allocatedGpus: 0, capacityGpus: 0, utilizationPct: null });
  });

  it('gives each project its GPUs, its deserved quota, and how busy the GPUs it holds are', () => {
    // p1: 1 (wa, n1) + 0.5 (wb) + 1 (wa, lost n3) = 2.5; busy 60 + 40 over 1.5 GPUs of readings.
    expect(get('project', 'p1')).toEqual({ allocatedGpus: 2.5, capacityGpus: 2.5, utilizationPct: 66.7 });
    // p2: halves are at 40% of their GPU each, over 0.75 GPUs held: 80%.
    expect(get('project', 'p2')).toEqual({ allocatedGpus: 0.75, capacityGpus: 0, utilizationPct: 80 });
    expect(get('project', 'p3')).toEqual({ allocatedGpus: 0, capacityGpus: 0, utilizationPct: null });
    // Departments have no series of their own.
    expect(get('project', 'd1')).toBeUndefined();
  });
});
