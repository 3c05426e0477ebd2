/**
 * `GET /top`: each node's GPUs with their newest sample and the pods granted on them, and
 * each workload's GPU use summed over its pods (workload awareness). A GPU's measured use is split
 * among the pods granted on it by their share of its granted compute (a whole-GPU pod takes it all,
 * two halves take half each); a GPU the driver reports no process breakdown for cannot be split any
 * better, and the grants are what the scheduler promised each pod.
 */
import type { NodeRecord } from '../store/nodes.ts';
import { type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import type { WorkloadRecord } from '../store/workloads.ts';
import type { NodeSamples } from './gpu-samples.ts';

/** One pod's part of one GPU. */
export interface TopGpuPod {
  workload: string;
  workloadName: string;
  pod: string;
  /** Its grant, in GPUs (0.5 = half). */
  fraction: number;
  /** Its part of the GPU's utilization and used memory; null when the GPU reported none. */
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
}

/** One GPU of a node. */
export interface TopGpu {
  uuid: string;
  index: number;
  model: string;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number;
  pods: TopGpuPod[];
}

/** One node. */
export interface TopNode {
  name: string;
  lost: boolean;
  /** When its newest sample arrived; null when none has. */
  sampledAt: string | null;
  gpus: TopGpu[];
}

/** One workload with its pods' GPU use summed. */
export interface TopWorkload {
  id: string;
  name: string;
  project: string;
  phase: string;
  /** Pods placed on a node. */
  pods: number;
  /** GPUs granted, summed (0.5 + 0.5 = 1). */
  gpus: number;
  /** Summed utilization in percent of one GPU (two GPUs at 50% = 100). */
  gpuUtilizationPct: number;
  gpuMemoryUsedMiB: number;
}

/** The whole answer of `GET /top`. */
export interface TopView {
  nodes: TopNode[];
  workloads: TopWorkload[];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Builds the top view from the store's records and the newest samples. */
export function topView(
  nodes: readonly NodeRecord[],
  pods: readonly PodRecord[],
  workloads: readonly WorkloadRecord[],
  samplesOf: (node: string) => NodeSamples | undefined,
): TopView {
  const byId = new Map(workloads.map((w) => [w.id, w]));
  const placed = pods.filter((p) => p.node !== null && SCHEDULED_POD_PHASES.includes(p.phase));
  const sums = new Map<string, TopWorkload>();
  const sumOf = (p: PodRecord): TopWorkload | undefined => {
    const w = byId.get(p.workload);
    if (w === undefined) return undefined;
    let s = sums.get(w.id);
    if (s === undefined) {
      s = {
        id: w.id,
        name: w.name,
        project: w.project,
        phase: w.phase,
        pods: 0,
        gpus: 0,
        gpuUtilizationPct: 0,
        gpuMemoryUsedMiB: 0,
      };
      sums.set(w.id, s);
    }
    return s;
  };
  for (const p of placed) {
    const s = sumOf(p);
    if (s === undefined) continue;
    s.pods += 1;
    // Summed in milli-GPU, the store's unit, so 0.75 + 0.25 stays exact.
    s.gpus = (Math.round(s.gpus * 1000) + p.grants.reduce((a, g) => a + g.gpuMilli, 0)) / 1000;
  }

  // Grouped once: a filter per node is nodes x pods, which the usage history pays every minute.
  const byNode = new Map<string, PodRecord[]>();
  for (const p of placed) {
    const list = byNode.get(p.node ?? '');
    if (list === undefined) byNode.set(p.node ?? '', [p]);
    else list.push(p);
  }
  const nodeViews = nodes.map((n): TopNode => {
    const sampled = samplesOf(n.name);
    const onNode = byNode.get(n.name) ?? [];
    const gpus = n.gpus.map((g): TopGpu => {
      const sample = sampled?.samples.find((x) => x.uuid === g.uuid);
      const util = sample?.utilizationPct ?? null;
      const used = sample?.memoryUsedMiB ?? null;
      const holders = onNode.flatMap((p) =>
        p.grants.filter((x) => x.uuid === g.uuid).map((x) => ({ p, milli: x.gpuMilli })),
      );
      const totalMilli = holders.reduce((a, h) => a + h.milli, 0);
      const gpuPods = holders.map(({ p, milli }): TopGpuPod => {
        // Grants with no compute share (memory-only) split evenly: nothing better is known.
        const share = totalMilli > 0 ? milli / totalMilli : 1 / holders.length;
        const podUtil = util === null ? null : round1(util * share);
        const podMem = used === null ? null : Math.round(used * share);
        const s = sumOf(p);
        if (s !== undefined) {
          s.gpuUtilizationPct = round1(s.gpuUtilizationPct + (podUtil ?? 0));
          s.gpuMemoryUsedMiB += podMem ?? 0;
        }
        return {
          workload: p.workload,
          workloadName: byId.get(p.workload)?.name ?? p.workload,
          pod: p.name,
          fraction: milli / 1000,
          utilizationPct: podUtil,
          memoryUsedMiB: podMem,
        };
      });
      return {
        uuid: g.uuid,
        index: g.index,
        model: g.model,
        utilizationPct: util,
        memoryUsedMiB: used,
        memoryTotalMiB: sample?.memoryTotalMiB ?? g.memoryMiB,
        pods: gpuPods,
      };
    });
    return {
      name: n.name,
      lost: n.lost,
      sampledAt: sampled === undefined ? null : new Date(sampled.atMs).toISOString(),
      gpus,
    };
  });
  return { nodes: nodeViews, workloads: [...sums.values()] };
}
