/** Workload awareness in the agent's /metrics: GPU use summed per workload, shared GPUs split, idle seconds. */
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics.ts';
import {
  createIdleTracker,
  utilizationOf,
  type WorkloadPod,
  workloadRows,
} from '../../agent/workload-metrics.ts';

const MIB = 1024 * 1024;
const TRAIN = 'project="ml",workload="train"';
const SERVE = 'project="web",workload="serve"';

function pod(
  podId: string,
  project: string,
  workload: string,
  uuid: string,
  gpuMilli: number,
  usedMiB: number,
) {
  return {
    podId,
    project,
    workload,
    live: true,
    grants: [{ uuid, gpuMilli }],
    gpuMemoryUsedMiB: new Map([[uuid, usedMiB]]),
  } satisfies WorkloadPod;
}

/** train: two pods on GPU-a (750 milli) and GPU-b (whole); serve: one pod sharing GPU-a (250 milli). */
function node() {
  let pods: WorkloadPod[] = [
    pod('train-0', 'ml', 'train', 'GPU-a', 750, 3000),
    pod('train-1', 'ml', 'train', 'GPU-b', 1000, 5000),
    pod('serve-0', 'web', 'serve', 'GPU-a', 250, 1000),
  ];
  let util = new Map<string, number | null>();
  const idle = createIdleTracker(2000);
  const metrics = createAgentMetrics({
    workloads: () => workloadRows(pods, util),
    idleSeconds: () => idle.rows(),
  });
  return {
    metrics,
    sample(atMs: number, pct: { a: number | null; b: number | null }) {
      util = utilizationOf({
        gpus: [
          { uuid: 'GPU-a', utilizationPct: pct.a },
          { uuid: 'GPU-b', utilizationPct: pct.b },
        ],
      });
      idle.observe(atMs, pods, util);
    },
    setPods(fn: (ps: WorkloadPod[]) => WorkloadPod[]) {
      pods = fn(pods);
    },
    async lines(prefix: string): Promise<string[]> {
      return (await metrics.text()).split('\n').filter((l) => l.startsWith(`${prefix}{`));
    },
  };
}

describe('agent workload metrics', () => {
  it("sums a workload's pods across GPUs and splits a shared GPU's utilization by grant", async () => {
    const n = node();
    n.sample(0, { a: 80, b: 50 });
    expect(await n.lines('tessera_workload_gpu_memory_used_bytes')).toEqual([
      `tessera_workload_gpu_memory_used_bytes{${TRAIN}} ${8000 * MIB}`,
      `tessera_workload_gpu_memory_used_bytes{${SERVE}} ${1000 * MIB}`,
    ]);
    expect(await n.lines('tessera_workload_gpus_allocated')).toEqual([
      `tessera_workload_gpus_allocated{${TRAIN}} 1.75`,
      `tessera_workload_gpus_allocated{${SERVE}} 0.25`,
    ]);
    // GPU-a at 80%: train holds 3/4 of it (0.6), serve 1/4 (0.2); GPU-b at 50% is train's alone.
    const util = await n.lines('tessera_workload_gpu_utilization_ratio');
    expect(util.map((l) => l.split(' ')[0])).toEqual([
      `tessera_workload_gpu_utilization_ratio{${TRAIN}}`,
      `tessera_workload_gpu_utilization_ratio{${SERVE}}`,
    ]);
    expect(Number(util[0]?.split(' ')[1])).toBeCloseTo(1.1);
    expect(Number(util[1]?.split(' ')[1])).toBeCloseTo(0.2);
    const text = await n.metrics.text();
    expect(text).toContain('# TYPE tessera_workload_gpu_idle_seconds_total counter');
    expect(text).not.toContain('pod="train-0"');
  });

  it("advances a workload's idle seconds only while all of its GPUs read 0%, a sampling gap capped", async () => {
    const n = node();
    n.sample(0, { a: 80, b: 50 });
    expect(await n.lines('tessera_workload_gpu_idle_seconds_total')).toEqual([
      `tessera_workload_gpu_idle_seconds_total{${TRAIN}} 0`,
      `tessera_workload_gpu_idle_seconds_total{${SERVE}} 0`,
    ]);
    n.sample(1000, { a: 0, b: 30 }); // serve idle; train still busy on GPU-b
    n.sample(2000, { a: 0, b: 0 }); // both idle
    n.sample(3000, { a: 10, b: 0 }); // neither: GPU-a is shared by both
    n.sample(4000, { a: null, b: 0 }); // N/A is not idle
    n.sample(14_000, { a: 0, b: 0 }); // a 10 s gap counts as at most 2 s
    expect(await n.lines('tessera_workload_gpu_idle_seconds_total')).toEqual([
      `tessera_workload_gpu_idle_seconds_total{${TRAIN}} 3`,
      `tessera_workload_gpu_idle_seconds_total{${SERVE}} 4`,
    ]);
  });

  it("drops an ended workload's gauges at once and its idle counter once its pod is forgotten", async () => {
    const n = node();
    n.sample(0, { a: 0, b: 0 });
    n.sample(1000, { a: 0, b: 0 });
    n.setPods((ps) => ps.map((p) => (p.workload === 'serve' ? { ...p, live: false } : p)));
    n.sample(2000, { a: 0, b: 0 });
    for (const name of [
      'tessera_workload_gpu_memory_used_bytes',
      'tessera_workload_gpu_utilization_ratio',
      'tessera_workload_gpus_allocated',
    ])
      expect((await n.lines(name)).map((l) => l.split(' ')[0])).toEqual([`${name}{${TRAIN}}`]);
    // Ended but not yet forgotten: the counter keeps its last value and stops advancing.
    expect(await n.lines('tessera_workload_gpu_idle_seconds_total')).toEqual([
      `tessera_workload_gpu_idle_seconds_total{${TRAIN}} 2`,
      `tessera_workload_gpu_idle_seconds_total{${SERVE}} 1`,
    ]);
    n.setPods((ps) => ps.filter((p) => p.workload !== 'serve'));
    n.sample(3000, { a: 0, b: 0 });
    expect(await n.lines('tessera_workload_gpu_idle_seconds_total')).toEqual([
      `tessera_workload_gpu_idle_seconds_total{${TRAIN}} 3`,
    ]);
  });

  it('exposes no workload series without a source', async () => {
    const text = await createAgentMetrics().text();
    expect(text).toContain('# TYPE tessera_workload_gpus_allocated gauge');
    expect(text.split('\n').some((l) => l.startsWith('tessera_workload_'))).toBe(false);
  });
});
