import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTimedTrace, runTimed, TIMED_POLICY_NAMES } from '../../sim/timed.ts';
import type { TraceNode, TracePod } from '../../sim/trace.ts';

/** One node, two T4 GPUs: small enough to compute every delay by hand. */
const ONE_NODE: TraceNode[] = [
  { name: 'n0', cpuMillis: 10_000, memoryMiB: 10_000, gpuCount: 2, model: 'T4' },
];

function pod(
  name: string,
  numGpu: number,
  gpuMilli: number,
  creationTimeS: number,
  deletionTimeS: number,
  scheduledTimeS?: number,
  gpuSpec: string[] = [],
): TracePod {
  const p: TracePod = {
    name,
    cpuMillis: 1000,
    memoryMiB: 1000,
    numGpu,
    gpuMilli,
    gpuSpec,
    creationTimeS,
    deletionTimeS,
  };
  if (scheduledTimeS !== undefined) p.scheduledTimeS = scheduledTimeS;
  return p;
}

/** Start times by pod name. */
function starts(pods: TracePod[]): Record<string, number | null> {
  const r = runTimed({ nodes: ONE_NODE, pods, policy: 'binpack' });
  return Object.fromEntries(r.outcomes.map((o) => [o.name, o.startS]));
}

describe('runTimed', () => {
  // a holds both GPUs until 100. b (runtime 65-15 = 50: deletion - scheduled) and c (runtime
  // 40-20 = 20: no scheduled time, so deletion - creation) start when a ends; d needs both GPUs
  // and waits for b's shifted end at 150.
  const scenario = [
    pod('a', 2, 1000, 0, 100, 0),
    pod('b', 1, 1000, 10, 65, 15),
    pod('c', 1, 500, 20, 40),
    pod('d', 2, 1000, 30, 50, 30),
  ];

  it('queues pods FIFO and starts them when a deletion frees capacity, keeping their runtime', () => {
    const r = runTimed({ nodes: ONE_NODE, pods: scenario, policy: 'binpack' });
    const byName = Object.fromEntries(r.outcomes.map((o) => [o.name, [o.startS, o.endS]]));
    expect(byName).toEqual({ a: [0, 100], b: [100, 150], c: [100, 120], d: [150, 170] });
    expect(r.placed).toBe(4);
    expect(r.unschedulable).toBe(0);
  });

  it('reports hand-computed delay statistics, allocation and makespan', () => {
    const r = runTimed({ nodes: ONE_NODE, pods: scenario, policy: 'binpack' });
    // Delays 0, 90, 80, 120; nearest-rank percentiles over [0, 80, 90, 120].
    expect(r.queueDelayS).toEqual({ mean: 72.5, p50: 80, p90: 120, p99: 120, max: 120 });
    expect(r.delayedPct).toBe(75);
    expect(r.makespanS).toBe(170);
    // GPU milli x seconds: 2000x100 + 1500x20 + 1000x30 + 2000x20 = 300000 over 2000x170.
    expect(r.gpuAllocationPct).toBeCloseTo((100 * 300_000) / 340_000, 10);
    expect(r.capacityGpus).toBe(2);
    expect(r.gpuAllocationPeakPct).toBe(100);
  });

  it('backfills: a later pod that fits starts before an earlier one that does not', () => {
    const pods = [pod('p1', 1, 1000, 0, 100), pod('p2', 2, 1000, 10, 20), pod('p3', 1, 1000, 20, 50)];
    expect(starts(pods)).toEqual({ p1: 0, p2: 100, p3: 20 });
  });

  it('frees capacity at a deletion for a pod created at the same instant', () => {
    const pods = [pod('p1', 2, 1000, 0, 50), pod('p2', 2, 1000, 50, 60)];
    expect(starts(pods)).toEqual({ p1: 0, p2: 50 });
  });

  it('reports pods no node could ever hold as unschedulable instead of queueing them', () => {
    const pods = [
      pod('too-many-gpus', 4, 1000, 0, 10),
      pod('wrong-model', 1, 1000, 1, 10, undefined, ['V100M32']),
      pod('fits', 1, 1000, 2, 10),
    ];
    const r = runTimed({ nodes: ONE_NODE, pods, policy: 'binpack' });
    expect(r.unschedulablePods).toEqual(['too-many-gpus', 'wrong-model']);
    expect(r.unschedulable).toBe(2);
    expect(r.placed).toBe(1);
    expect(r.outcomes.find((o) => o.name === 'too-many-gpus')?.startS).toBeNull();
  });

  it('never over-commits, starts no pod before its creation, keeps runtimes, and is deterministic', () => {
    const arbPod = fc.record({
      numGpu: fc.constantFrom(0, 1, 1, 2),
      gpuMilli: fc.constantFrom(250, 500, 1000),
      cpuMillis: fc.integer({ min: 0, max: 6000 }),
      creationTimeS: fc.integer({ min: 0, max: 200 }),
      runtimeS: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(
        fc.array(arbPod, { maxLength: 25 }),
        fc.constantFrom(...TIMED_POLICY_NAMES),
        (specs, policy) => {
          const pods: TracePod[] = specs.map((s, i) => ({
            name: `p${i}`,
            cpuMillis: s.cpuMillis,
            memoryMiB: 100,
            numGpu: s.numGpu,
            gpuMilli: s.numGpu === 1 ? s.gpuMilli : s.numGpu === 0 ? 0 : 1000,
            gpuSpec: [],
            creationTimeS: s.creationTimeS,
            deletionTimeS: s.creationTimeS + s.runtimeS,
          }));
          const r = runTimed({ nodes: ONE_NODE, pods, policy });
          expect(runTimed({ nodes: ONE_NODE, pods, policy })).toEqual(r);
          expect(r.placed + r.unschedulable).toBe(pods.length);
          r.outcomes.forEach((o, i) => {
            if (o.startS === null || o.endS === null) return;
            expect(o.startS).toBeGreaterThanOrEqual(o.createdS);
            expect(o.endS - o.startS).toBe(specs[i]!.runtimeS);
          });
          // At each start instant, what runs fits the node (zero-runtime pods hold nothing).
          for (const o of r.outcomes) {
            if (o.startS === null) continue;
            const t = o.startS;
            const running = r.outcomes
              .map((x, i) => ({ x, p: pods[i]! }))
              .filter(({ x }) => x.startS !== null && x.endS !== null && x.startS <= t && t < x.endS);
            const gpu = running.reduce((s, { p }) => s + p.numGpu * p.gpuMilli, 0);
            const cpu = running.reduce((s, { p }) => s + p.cpuMillis, 0);
            expect(gpu).toBeLessThanOrEqual(2000);
            expect(cpu).toBeLessThanOrEqual(10_000);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('checkTimedTrace', () => {
  it('refuses pods without times, naming the file', () => {
    const untimed: TracePod = {
      name: 'x',
      cpuMillis: 1,
      memoryMiB: 1,
      numGpu: 1,
      gpuMilli: 1000,
      gpuSpec: [],
    };
    const r = checkTimedTrace([untimed], 'openb_pod_list_multigpu20.csv');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('TESSERA_E_INVALID_TRACE');
      expect(r.error.message).toContain('openb_pod_list_multigpu20.csv');
      expect(r.error.message).toContain('--mode fill');
    }
  });

  it('refuses a pod deleted before it was created', () => {
    const r = checkTimedTrace([pod('back', 1, 1000, 50, 40)], 'p.csv');
    expect(r.ok).toBe(false);
  });

  it('accepts a fully timed trace', () => {
    expect(checkTimedTrace([pod('a', 1, 1000, 0, 10)], 'p.csv').ok).toBe(true);
  });
});
