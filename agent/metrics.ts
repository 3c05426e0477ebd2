/**
 * The agent's Prometheus metrics (`/metrics`), in their own prom-client Registry, never the global
 * one: two agents in one process (tests) or a library user's own metrics must not collide.
 *
 * Values are taken at scrape time from one `MetricsView` of the agent, not pushed on every sample:
 * an idle agent sampling 8 GPUs at 1 Hz pays nothing for metrics nobody scrapes. Gauges are reset
 * before each update, so a pod that ended or a GPU that vanished leaves no stale series. Counters
 * come from the agent's monotonic counts and are advanced by the difference since the last scrape.
 * Units follow Prometheus' conventions: bytes, ratios (0-1), degrees Celsius, watts.
 *
 * The per-workload series (`tessera_workload_*`, labels project and workload only) are read through
 * collect() callbacks from a `WorkloadMetricsSource` at scrape time. Their gauges are reset before
 * they are set, so a workload whose pods all ended drops out; the idle-seconds counter keeps its
 * last value until the agent forgets the workload's last pod (the ended-pod retention).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentStatus } from './api.ts';
import type { EnforcerCounters } from './enforce/index.ts';
import type { WorkloadIdleRow, WorkloadRow } from './workload-metrics.ts';

/** One GPU's latest reading; null where the driver reported N/A (the series is then left out). */
export interface GpuMetricsRow {
  uuid: string;
  index: number;
  model: string;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
}

/** What one scrape reads from the agent. Counts are the enforcer's, monotonic since the agent started. */
export interface MetricsView
  extends Pick<
    EnforcerCounters,
    'oomKills' | 'reclaimKills' | 'reclaimSwaps' | 'swapsOut' | 'swapsIn' | 'swapRefusals' | 'slicePauses'
  > {
  gpus: GpuMetricsRow[];
  /** GPU memory each pod's processes hold, per GPU. */
  podMemory: { podId: string; gpuUuid: string; usedMiB: number }[];
  swapPoolUsedMiB: number;
  swapPoolCapacityMiB: number;
}

/** Where the per-workload series come from, read on every scrape (workload-metrics.ts). */
export interface WorkloadMetricsSource {
  workloads(): WorkloadRow[];
  idleSeconds(): WorkloadIdleRow[];
}

/** The agent's registry and how to fill it. */
export interface AgentMetrics {
  readonly registry: Registry;
  /** Sets every metric from `view`. */
  update(view: MetricsView): void;
  /** The exposition text (call `update` first). */
  text(): Promise<string>;
  readonly contentType: string;
}

const BYTES_PER_MIB = 1024 * 1024;

/** Creates the agent's metrics in a registry of their own; without `workloads` the workload series stay empty. */
export function createAgentMetrics(workloads?: WorkloadMetricsSource): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gpuLabels = ['gpu', 'index', 'model'] as const;
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });

  const util = gauge(
    'tessera_gpu_utilization_ratio',
    'GPU utilization over the last sample, 0-1.',
    gpuLabels,
  );
  const memUsed = gauge('tessera_gpu_memory_used_bytes', 'GPU memory in use.', gpuLabels);
  const memTotal = gauge('tessera_gpu_memory_total_bytes', 'GPU memory in total.', gpuLabels);
  const temp = gauge('tessera_gpu_temperature_celsius', 'GPU core temperature.', gpuLabels);
  const power = gauge('tessera_gpu_power_watts', 'GPU power draw.', gpuLabels);
  const podMem = gauge('tessera_pod_gpu_memory_used_bytes', "GPU memory a pod's processes hold.", [
    'pod',
    'gpu',
  ]);
  const poolUsed = gauge('tessera_swap_pool_used_bytes', 'GPU memory held in the host-RAM swap pool.', []);
  const poolCap = gauge(
    'tessera_swap_pool_capacity_bytes',
    'Size of the host-RAM swap pool (0: swap off).',
    [],
  );
  const oom = counter(
    'tessera_gpu_oom_kills_total',
    'Pods killed for using more GPU memory than their limit.',
  );
  const reclaims = counter(
    'tessera_gpu_reclaims_total',
    'Dynamic-fraction reclaims of borrowed GPU memory, by how it was given back (kill or swap).',
    ['action'],
  );
  const swaps = counter('tessera_gpu_swaps_total', 'GPU swaps to and from the host-RAM pool.', ['direction']);
  const refusals = counter(
    'tessera_gpu_swap_refusals_total',
    'Swaps refused (pool full, tool missing, ...).',
  );
  const pauses = counter('tessera_timeslice_pauses_total', 'Time-slicing quanta that paused (froze) a pod.');

  const workloadLabels = ['project', 'workload'] as const;
  const workloadGauge = (name: string, help: string, value: (w: WorkloadRow) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: workloadLabels,
      registers,
      collect() {
        this.reset();
        for (const w of workloads?.workloads() ?? []) {
          const v = value(w);
          if (v !== null) this.set({ project: w.project, workload: w.workload }, v);
        }
      },
    });
  workloadGauge(
    'tessera_workload_gpu_memory_used_bytes',
    "GPU memory a workload's pods hold on this node.",
    (w) => w.memoryUsedMiB * BYTES_PER_MIB,
  );
  workloadGauge(
    'tessera_workload_gpu_utilization_ratio',
    "Sum over a workload's pods of their GPU's utilization times the pod's share of it, 0-N.",
    (w) => w.utilizationRatio,
  );
  workloadGauge(
    'tessera_workload_gpus_allocated',
    "GPUs granted to a workload's pods on this node (fractions count as such).",
    (w) => w.gpusAllocated,
  );
  new Counter({
    name: 'tessera_workload_gpu_idle_seconds_total',
    help: "Seconds during which all of a workload's GPUs on this node read 0% utilization.",
    labelNames: workloadLabels,
    registers,
    collect() {
      // The tracker's totals only grow while a workload is known; reset drops forgotten ones.
      this.reset();
      for (const r of workloads?.idleSeconds() ?? [])
        this.inc({ project: r.project, workload: r.workload }, r.seconds);
    },
  });

  // What each counter series has been advanced to; a count below it (an agent restart in the same
  // process cannot happen, but a counter must never go down) is ignored.
  const seen = new Map<string, number>();
  const advance = (key: string, c: Counter<string>, value: number, labels: Record<string, string> = {}) => {
    const d = value - (seen.get(key) ?? 0);
    if (d > 0) {
      c.inc(labels, d);
      seen.set(key, value);
    } else if (!seen.has(key)) {
      // Expose 0 from the first scrape: a series that appears only on its first event breaks rate().
      c.inc(labels, 0);
      seen.set(key, 0);
    }
  };

  return {
    registry,
    contentType: registry.contentType,
    update(view) {
      for (const g of [util, memUsed, memTotal, temp, power, podMem]) g.reset();
      for (const row of view.gpus) {
        const labels = { gpu: row.uuid, index: String(row.index), model: row.model };
        if (row.utilizationPct !== null) util.set(labels, row.utilizationPct / 100);
        if (row.memoryUsedMiB !== null) memUsed.set(labels, row.memoryUsedMiB * BYTES_PER_MIB);
        if (row.memoryTotalMiB !== null) memTotal.set(labels, row.memoryTotalMiB * BYTES_PER_MIB);
        if (row.temperatureC !== null) temp.set(labels, row.temperatureC);
        if (row.powerDrawW !== null) power.set(labels, row.powerDrawW);
      }
      for (const p of view.podMemory) podMem.set({ pod: p.podId, gpu: p.gpuUuid }, p.usedMiB * BYTES_PER_MIB);
      poolUsed.set(view.swapPoolUsedMiB * BYTES_PER_MIB);
      poolCap.set(view.swapPoolCapacityMiB * BYTES_PER_MIB);
      advance('oom', oom, view.oomKills);
      advance('reclaim-kill', reclaims, view.reclaimKills, { action: 'kill' });
      advance('reclaim-swap', reclaims, view.reclaimSwaps, { action: 'swap' });
      advance('swap-out', swaps, view.swapsOut, { direction: 'out' });
      advance('swap-in', swaps, view.swapsIn, { direction: 'in' });
      advance('refusals', refusals, view.swapRefusals);
      advance('pauses', pauses, view.slicePauses);
    },
    text: () => registry.metrics(),
  };
}

/** The metrics of an agent's status: GPUs with their latest sample, pods' memory, counters, the pool. */
export function metricsViewOf(s: AgentStatus): MetricsView {
  const c = s.counters;
  return {
    gpus: s.gpus.map((g) => ({
      uuid: g.uuid,
      index: g.index,
      model: g.model,
      utilizationPct: g.sample?.utilizationPct ?? null,
      memoryUsedMiB: g.sample?.memoryUsedMiB ?? null,
      memoryTotalMiB: g.memoryTotalMiB,
      temperatureC: g.sample?.temperatureC ?? null,
      powerDrawW: g.sample?.powerDrawW ?? null,
    })),
    podMemory: s.pods.flatMap((p) =>
      Object.entries(p.gpuMemoryUsedMiB).map(([gpuUuid, usedMiB]) => ({ podId: p.podId, gpuUuid, usedMiB })),
    ),
    oomKills: c.oomKills,
    reclaimKills: c.reclaimKills,
    reclaimSwaps: c.reclaimSwaps,
    swapsOut: c.swapsOut,
    swapsIn: c.swapsIn,
    swapRefusals: c.swapRefusals,
    slicePauses: c.slicePauses,
    swapPoolUsedMiB: s.swap.usedMiB,
    swapPoolCapacityMiB: s.swap.capacityMiB,
  };
}
