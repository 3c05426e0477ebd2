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

  // a holds one GPU until 100; b needs both, c one. At scale 1 each arrives to a free cluster. At
  // scale 4 arrivals land at 0, 50, 100 with runtimes kept: b waits for a's end at 100 and takes
  // both GPUs; c, queued behind b at the same instant, waits for b's end at 160.
  const spaced = [pod('a', 1, 1000, 0, 100), pod('b', 2, 1000, 200, 260), pod('c', 1, 1000, 400, 430)];

  it('replays spaced arrivals without delay at arrival scale 1', () => {
    const r = runTimed({ nodes: ONE_NODE, pods: spaced, policy: 'binpack' });
    const byName = Object.fromEntries(r.outcomes.map((o) => [o.name, [o.createdS, o.startS, o.endS]]));
    expect(byName).toEqual({ a: [0, 0, 100], b: [200, 200, 260], c: [400, 400, 430] });
    expect(r.arrivalScale).toBe(1);
    expect(r.queueDelayS.max).toBe(0);
    expect(r.delayedPct).toBe(0);
    expect(r.arrivalSpanS).toBe(400);
    // GPU milli x runtime: 1000x100 + 2000x60 + 1000x30 = 250000 over 2000 milli x 400 s.
    expect(r.offeredLoadPct).toBeCloseTo(31.25, 10);
  });

  it('compresses arrivals by the arrival scale, keeping runtimes, so queueing appears', () => {
    const r = runTimed({ nodes: ONE_NODE, pods: spaced, policy: 'binpack', arrivalScale: 4 });
    const byName = Object.fromEntries(r.outcomes.map((o) => [o.name, [o.createdS, o.startS, o.endS]]));
    expect(byName).toEqual({ a: [0, 0, 100], b: [50, 100, 160], c: [100, 160, 190] });
    expect(r.arrivalScale).toBe(4);
    // Delays 0, 50, 60.
    expect(r.queueDelayS).toEqual({ mean: 110 / 3, p50: 50, p90: 60, p99: 60, max: 60 });
    expect(r.delayedPct).toBeCloseTo(200 / 3, 10);
    expect(r.makespanS).toBe(190);
    expect(r.arrivalSpanS).toBe(100);
    // The same 250000 milli-GPU seconds over 2000 x 100: four times the load of scale 1.
    expect(r.offeredLoadPct).toBeCloseTo(125, 10);
  });

  it('takes a fractional scale: at 2.5, b waits 20 s and c starts as b ends', () => {
    const r = runTimed({ nodes: ONE_NODE, pods: spaced, policy: 'binpack', arrivalScale: 2.5 });
    const byName = Object.fromEntries(r.outcomes.map((o) => [o.name, [o.createdS, o.startS, o.endS]]));
    expect(byName).toEqual({ a: [0, 0, 100], b: [80, 100, 160], c: [160, 160, 190] });
  });

  it('leaves unschedulable pods out of the offered load and reports none for a single instant', () => {
    const pods = [pod('fits', 1, 1000, 0, 100), pod('too-big', 4, 1000, 100, 200)];
    const r = runTimed({ nodes: ONE_NODE, pods, policy: 'binpack' });
    expect(r.offeredLoadPct).toBeCloseTo((100 * 1000 * 100) / (2000 * 100), 10);
    const once = runTimed({ nodes: ONE_NODE, pods: [pod('x', 1, 1000, 5, 10)], policy: 'binpack' });
    expect(once.arrivalSpanS).toBe(0);
    expect(once.offeredLoadPct).toBeNull();
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses arrival scale %s', (arrivalScale) => {
    expect(() => runTimed({ nodes: ONE_NODE, pods: spaced, policy: 'binpack', arrivalScale })).toThrow(
      /arrivalScale/,
    );
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
        fc.constantFrom(1, 1, 0.5, 2, 3.7, 50),
        (specs, policy, arrivalScale) => {
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
          const r = runTimed({ nodes: ONE_NODE, pods, policy, arrivalScale });
          expect(runTimed({ nodes: ONE_NODE, pods, policy, arrivalScale })).toEqual(r);
          expect(r.placed + r.unschedulable).toBe(pods.length);
          // Offered load is the scale-1 load times the scale: same work, window shrunk K-fold.
          const base = runTimed({ nodes: ONE_NODE, pods, policy }).offeredLoadPct;
          if (base === null) expect(r.offeredLoadPct).toBeNull();
          else expect(r.offeredLoadPct).toBeCloseTo(base * arrivalScale, 6);
          r.outcomes.forEach((o, i) => {
            expect(o.createdS).toBe(specs[i]!.creationTimeS / arrivalScale);
            if (o.startS === null || o.endS === null) return;
            expect(o.startS).toBeGreaterThanOrEqual(o.createdS);
            // Exact at scale 1; a fractional start may round the subtraction in the last bit.
            expect(o.endS - o.startS).toBeCloseTo(specs[i]!.runtimeS, 9);
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
