/**
 * Workload awareness for `/metrics`: a workload's GPU use on this node summed over its pods, labelled
 * by project and workload only (never pod names, so cardinality is bounded by the workloads placed
 * here), and the seconds during which all of a workload's GPUs sat at 0% utilization.
 *
 * Gauges are computed at scrape time from the agent's latest sample (`workloadRows`); only the idle
 * counter (`createIdleTracker`) does work per sample, since idle time cannot be read back later.
 */
import { MILLI_PER_GPU } from '../common/resources.ts';
import { LIVE_STATES } from './enforce/index.ts';
import type { Runner } from './runner/index.ts';

/** A pod as workload metrics see it: its labels, whether it is live, its grants and measured memory. */
export interface WorkloadPod {
  podId: string;
  project: string;
  workload: string;
  /** Starting, running or ready: only live pods count towards the gauges. */
  live: boolean;
  grants: readonly { uuid: string; gpuMilli: number }[];
  /** GPU uuid -> MiB its processes held in the latest sample. */
  gpuMemoryUsedMiB: ReadonlyMap<string, number>;
}

/** Every pod `runner` still knows, with its GPU memory from the latest sample (`byPod`: pod -> GPU uuid -> MiB). */
export function workloadPodsOf(
  runner: Pick<Runner, 'list' | 'specOf'>,
  byPod: ReadonlyMap<string, ReadonlyMap<string, number>>,
): WorkloadPod[] {
  return runner.list().flatMap((s) => {
    const spec = runner.specOf(s.podId);
    if (spec === undefined) return [];
    return [
      {
        podId: s.podId,
        project: spec.project,
        workload: spec.workload,
        live: LIVE_STATES.has(s.state),
        grants: spec.grants,
        gpuMemoryUsedMiB: byPod.get(s.podId) ?? new Map<string, number>(),
      },
    ];
  });
}

/** One workload's GPU use on this node. */
export interface WorkloadRow {
  project: string;
  workload: string;
  memoryUsedMiB: number;
  /** Sum over its GPUs of utilization x its share of that GPU, 0..N; null when none of its GPUs has a reading. */
  utilizationRatio: number | null;
  /** Sum of its grants, in GPUs (500 milli -> 0.5). */
  gpusAllocated: number;
}

/** Idle seconds accumulated for one workload. */
export interface WorkloadIdleRow {
  project: string;
  workload: string;
  seconds: number;
}

/** GPU uuid -> utilization (%) of one sample; null where the driver reported N/A. */
export function utilizationOf(sample: {
  gpus: readonly { uuid: string; utilizationPct: number | null }[];
}): Map<string, number | null> {
  return new Map(sample.gpus.map((g) => [g.uuid, g.utilizationPct]));
}

const keyOf = (project: string, workload: string): string => JSON.stringify([project, workload]);

/**
 * Sums each workload's live pods. A shared GPU's utilization is split between its live tenants in
 * proportion to their grants (gpuMilli; equally when every grant is 0): the driver does not report
 * per-process compute reliably, and a lone fractional tenant is charged the whole GPU, since no one
 * else can have used it.
 */
export function workloadRows(
  pods: readonly WorkloadPod[],
  utilizationPct: ReadonlyMap<string, number | null>,
): WorkloadRow[] {
  const live = pods.filter((p) => p.live);
  const tenants = new Map<string, { milli: number; count: number }>();
  for (const p of live)
    for (const g of p.grants) {
      const t = tenants.get(g.uuid) ?? { milli: 0, count: 0 };
      tenants.set(g.uuid, { milli: t.milli + g.gpuMilli, count: t.count + 1 });
    }
  const rows = new Map<string, WorkloadRow>();
  for (const p of live) {
    const key = keyOf(p.project, p.workload);
    const row = rows.get(key) ?? {
      project: p.project,
      workload: p.workload,
      memoryUsedMiB: 0,
      utilizationRatio: null,
      gpusAllocated: 0,
    };
    for (const used of p.gpuMemoryUsedMiB.values()) row.memoryUsedMiB += used;
    for (const g of p.grants) {
      row.gpusAllocated += g.gpuMilli / MILLI_PER_GPU;
      const pct = utilizationPct.get(g.uuid) ?? null;
      const t = tenants.get(g.uuid);
      if (pct === null || t === undefined) continue;
      const share = t.milli > 0 ? g.gpuMilli / t.milli : 1 / t.count;
      row.utilizationRatio = (row.utilizationRatio ?? 0) + (pct / 100) * share;
    }
    rows.set(key, row);
  }
  return [...rows.values()];
}

/** Idle seconds per workload, advanced on every sample. */
export interface IdleTracker {
  /**
   * Credits each live workload whose granted GPUs all read exactly 0% with the time since the
   * previous sample (at most `maxStepMs`: a gap in sampling is not idle time anyone saw). `pods`
   * is every pod the agent still knows, ended ones included: a workload none of whose pods is
   * known any more (forgotten after the ended-pod retention) is dropped.
   */
  observe(
    atMs: number,
    pods: readonly WorkloadPod[],
    utilizationPct: ReadonlyMap<string, number | null>,
  ): void;
  rows(): WorkloadIdleRow[];
}

/** An idle tracker; `maxStepMs` caps what one sample may credit (the agent: twice its interval). */
export function createIdleTracker(maxStepMs: number): IdleTracker {
  const idle = new Map<string, WorkloadIdleRow>();
  let lastAtMs: number | null = null;
  return {
    observe(atMs, pods, utilizationPct) {
      const stepMs = lastAtMs === null ? 0 : Math.min(Math.max(atMs - lastAtMs, 0), maxStepMs);
      lastAtMs = atMs;
      const known = new Set(pods.map((p) => keyOf(p.project, p.workload)));
      for (const key of idle.keys()) if (!known.has(key)) idle.delete(key);
      const gpus = new Map<string, { project: string; workload: string; uuids: Set<string> }>();
      for (const p of pods) {
        if (!p.live || p.grants.length === 0) continue;
        const key = keyOf(p.project, p.workload);
        const w = gpus.get(key) ?? { project: p.project, workload: p.workload, uuids: new Set<string>() };
        for (const g of p.grants) w.uuids.add(g.uuid);
        gpus.set(key, w);
      }
      for (const [key, w] of gpus) {
        // Exposed from the first sample (at 0), so rate() sees the series before the first idle second.
        const row = idle.get(key) ?? { project: w.project, workload: w.workload, seconds: 0 };
        if ([...w.uuids].every((uuid) => utilizationPct.get(uuid) === 0)) row.seconds += stepMs / 1000;
        idle.set(key, row);
      }
    },
    rows: () => [...idle.values()].map((r) => ({ ...r })),
  };
}
