/**
 * One history sample from what the allocator knows now: the top view (each GPU's newest reading and
 * the pods granted on it, split as `tessera top` splits them), each node's pool and each project's
 * quota. Pure: history-sampler.ts reads the store and the sample cache and hands them in.
 */
import type { QueueRecord, QuotaRecord } from '../store/org.ts';
import type { HistoryKind, HistorySample, HistoryValue } from './history.ts';
import type { TopView } from './top.ts';

/** What a sample is made of. */
export interface HistoryInputs {
  top: TopView;
  /** Each node's pool (store/snapshot.ts poolOf); a node missing here counts in no pool. */
  poolOfNode: ReadonlyMap<string, string>;
  /** Every pool, so an empty one is still plotted (at zero). */
  pools: readonly string[];
  /** Every department and project; projects get a series. */
  queues: readonly QueueRecord[];
  quotas: readonly QuotaRecord[];
}

/** Sums for one series while a sample is built. */
interface Sum {
  allocatedMilli: number;
  capacityGpus: number;
  /** Utilization readings, weighted: a GPU's reading times its weight. */
  utilWeighted: number;
  utilWeight: number;
}

const emptySum = (capacityGpus = 0): Sum => ({
  allocatedMilli: 0,
  capacityGpus,
  utilWeighted: 0,
  utilWeight: 0,
});

function seriesValue(s: Sum): HistoryValue {
  return {
    allocatedGpus: s.allocatedMilli / 1000,
    capacityGpus: s.capacityGpus,
    utilizationPct: s.utilWeight === 0 ? null : Math.round((s.utilWeighted / s.utilWeight) * 10) / 10,
  };
}

/** The sample of every project, node pool and node. */
export function historySample(inputs: HistoryInputs): HistorySample {
  const { top, poolOfNode } = inputs;
  const projectOf = new Map(top.workloads.map((w) => [w.id, w.project]));
  const nodes = new Map<string, Sum>();
  const pools = new Map<string, Sum>(inputs.pools.map((p) => [p, emptySum()]));
  const projects = new Map<string, Sum>();
  for (const q of inputs.queues) if (q.parent !== null) projects.set(q.name, emptySum());
  for (const q of inputs.quotas) {
    const p = projects.get(q.queue);
    if (p !== undefined) p.capacityGpus += q.deserved.gpuMilli / 1000;
  }

  for (const n of top.nodes) {
    const node = emptySum(n.gpus.length);
    nodes.set(n.name, node);
    const poolName = poolOfNode.get(n.name);
    let pool = poolName === undefined ? undefined : pools.get(poolName);
    if (poolName !== undefined && pool === undefined) {
      pool = emptySum();
      pools.set(poolName, pool);
    }
    // A lost node's GPUs serve nobody, and its last reading is as old as its silence.
    if (pool !== undefined && !n.lost) pool.capacityGpus += n.gpus.length;
    for (const g of n.gpus) {
      const reading = n.lost ? null : g.utilizationPct;
      for (const sum of [node, pool]) {
        if (sum === undefined) continue;
        if (reading !== null) {
          sum.utilWeighted += reading;
          sum.utilWeight += 1;
        }
      }
      for (const pod of g.pods) {
        const milli = Math.round(pod.fraction * 1000);
        node.allocatedMilli += milli;
        if (pool !== undefined) pool.allocatedMilli += milli;
        const project = projects.get(projectOf.get(pod.workload) ?? '');
        if (project === undefined) continue;
        project.allocatedMilli += milli;
        // The pod's part of the GPU's reading, over the part of the GPU it holds: how busy what it
        // holds is (a half-GPU pod with 40% of the GPU to itself is at 80%).
        if (!n.lost && pod.utilizationPct !== null && pod.fraction > 0) {
          project.utilWeighted += pod.utilizationPct;
          project.utilWeight += pod.fraction;
        }
      }
    }
  }

  const out = new Map<HistoryKind, Map<string, HistoryValue>>();
  out.set('project', new Map([...projects].map(([k, s]) => [k, seriesValue(s)])));
  out.set('nodepool', new Map([...pools].map(([k, s]) => [k, seriesValue(s)])));
  out.set('node', new Map([...nodes].map(([k, s]) => [k, seriesValue(s)])));
  return out;
}
