/**
 * Turns the stored state into the scheduler's pure input (docs/architecture.md §3): nodes resolved to
 * pools, queues with their quotas, and the pod groups of workloads that hold or want pods.
 */
import type { WorkloadPhase } from '../../common/phases.ts';
import type {
  GroupSnap,
  NodeSnap,
  PodSnap,
  PoolSnap,
  QueueSnap,
  QuotaSnap,
  SchedulerConfig,
  Snapshot,
} from '../scheduler/snapshot.ts';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/snapshot.ts';
import { type Db, inTransaction } from './db.ts';
import { jsonField } from './dialect.ts';
import { listNodes } from './nodes.ts';
import { DEFAULT_POOL, listPools, listQueues, listQuotas, type PoolRecord } from './org.ts';
import { listPods, SCHEDULED_POD_PHASES, succeededBindTimes } from './pods.ts';
import { listWorkloads } from './workloads.ts';

/** Workload phases whose pods the scheduler places, keeps or evicts. */
export const SCHEDULED_PHASES: readonly WorkloadPhase[] = ['Pending', 'Initializing', 'Running', 'Degraded'];

/** True when every label of the selector is on the node with the same value; `{}` matches all. */
export function matchesSelector(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
) {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The pool a node falls in: the oldest pool whose selector matches, else `default`. */
export function poolOf(pools: readonly PoolRecord[], labels: Readonly<Record<string, string>>): string {
  // The default pool is where unmatched nodes go, so its own selector never claims a node.
  return (
    pools.find((p) => p.name !== DEFAULT_POOL && matchesSelector(p.selector, labels))?.name ?? DEFAULT_POOL
  );
}

/**
 * The replicas an autoscaled workload wants now (allocator/serve/scaler.ts); undefined: its spec's
 * range stands. Default: none is autoscaled.
 */
export type WantedReplicas = (workload: string) => number | undefined;

/**
 * The elastic range the scheduler sees: the spec's, capped at the autoscaler's wanted count, which
 * may be 0 (scaled to zero: no pod is required, none is grown).
 */
export function memberRange(
  spec: { minReplicas: number; maxReplicas: number },
  wanted: number | undefined,
): { minMember: number; maxMember: number } {
  if (wanted === undefined) return { minMember: spec.minReplicas, maxMember: spec.maxReplicas };
  const maxMember = Math.max(0, Math.min(spec.maxReplicas, wanted));
  return { minMember: Math.min(spec.minReplicas, maxMember), maxMember };
}

/**
 * The member range of a workload some of whose pods already finished their part (exited 0, as the
 * workers of a distributed job do one after another): it neither grows nor replaces them, and the
 * pods still running are a whole gang, so stale-gang does not evict them. Only pods bound with or
 * after the running ones count: those of an earlier attempt (before a gang restart) are history.
 */
export function finishingRange(
  range: { minMember: number; maxMember: number },
  live: readonly { boundAtMs: number }[],
  succeededBoundMs: readonly number[],
): { minMember: number; maxMember: number } {
  if (live.length === 0 || succeededBoundMs.length === 0) return range;
  const since = Math.min(...live.map((p) => p.boundAtMs));
  if (!succeededBoundMs.some((ms) => ms >= since)) return range;
  return { minMember: Math.min(range.minMember, live.length), maxMember: live.length };
}

/** Reads the whole scheduler input from the store at `nowMs`. */
export function buildSnapshot(
  db: Db,
  nowMs: number,
  config: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG,
  wanted: WantedReplicas = () => undefined,
): Snapshot {
  // One read transaction: a snapshot is one instant even if a writer commits meanwhile.
  return inTransaction(db, () => {
    const poolRecs = listPools(db);
    const pools: PoolSnap[] = poolRecs.map((p) => ({ name: p.name, placement: p.placementGpu }));
    if (!pools.some((p) => p.name === DEFAULT_POOL)) pools.push({ name: DEFAULT_POOL, placement: 'binpack' });

    const nodeRecs = listNodes(db);
    const lostNodes = new Set(nodeRecs.filter((n) => n.lost).map((n) => n.name));
    const nodes: NodeSnap[] = nodeRecs.map((n) => ({
      name: n.name,
      pool: poolOf(poolRecs, n.labels),
      nodeType: n.labels['node.type'] ?? '',
      labels: n.labels,
      gpus: n.gpus,
      cpuMillis: n.cpuMillis,
      memoryMiB: n.memoryMiB,
      schedulable: n.schedulable && !n.cordoned && !n.lost,
      // Ports held by pods being stopped count as free, as their GPUs do: store/ports.ts gives them
      // out last and the dispatcher holds the new pod until the stop is confirmed.
      portCount: n.network === null ? 0 : n.network.portRange.last - n.network.portRange.first + 1,
    }));

    const quotas = new Map<string, Record<string, QuotaSnap>>();
    for (const q of listQuotas(db)) {
      const byPool = quotas.get(q.queue) ?? {};
      byPool[q.nodePool] = { deserved: q.deserved, overQuotaWeight: q.overQuotaWeight, limit: q.limit };
      quotas.set(q.queue, byPool);
    }
    const queues: QueueSnap[] = listQueues(db).map((q, i) => ({
      name: q.name,
      parent: q.parent,
      createdOrder: i,
      quotas: quotas.get(q.name) ?? {},
    }));

    // Stopping pods are left out: the scheduler counts an eviction as freeing its resources at once
    // (as the plan that evicted them assumed), so showing them again would make it evict twice. Until
    // the agent confirms the stop, the link must hold a StartPod for the same GPU behind its StopPod.
    const podsByWorkload = new Map<string, PodSnap[]>();
    const unreachable = new Set<string>();
    for (const p of listPods(db, { phases: SCHEDULED_POD_PHASES })) {
      if (p.node === null) continue;
      // Unknown, or Bound on a node past its lease: it may run there, so nothing of it moves.
      if (p.phase === 'Unknown' || lostNodes.has(p.node)) unreachable.add(p.workload);
      const list = podsByWorkload.get(p.workload) ?? [];
      list.push({ name: p.name, node: p.node, grants: p.grants, boundAtMs: p.boundMs ?? 0 });
      podsByWorkload.set(p.workload, list);
    }
    const succeeded = succeededBindTimes(db, SCHEDULED_PHASES);
    const groups: GroupSnap[] = listWorkloads(db, { phases: SCHEDULED_PHASES }).map((w) => {
      const pods = podsByWorkload.get(w.id) ?? [];
      const g: GroupSnap = {
        id: w.id,
        name: w.name,
        queue: w.project,
        priority: w.spec.priority,
        preemptible: w.spec.preemptible,
        createdAtMs: w.createdMs,
        nodePools: w.spec.nodePools,
        nodeTypes: w.spec.nodeTypes,
        needsContainer: w.spec.image !== undefined,
        gpuModels: w.spec.gpuModels,
        request: w.spec.resources,
        portsPerPod: w.spec.ports.length,
        ...finishingRange(memberRange(w.spec, wanted(w.id)), pods, succeeded.get(w.id) ?? []),
        pods,
        minRuntimeMs: w.spec.minRuntimeMs,
        nextPodOrdinal: w.nextPodOrdinal,
      };
      if (w.belowMinSinceMs !== null) g.belowMinSinceMs = w.belowMinSinceMs;
      if (unreachable.has(w.id)) g.unreachable = true;
      return g;
    });

    return { nowMs, nodes, pools, queues, groups, config };
  });
}

/**
 * True when a scheduling cycle might do something even though nothing changed: work waiting to be
 * placed or grown, gangs below their minimum, user stops and deletes to carry out, or frames owed
 * to agents. False lets a periodic tick skip a cycle that would rebuild a snapshot of every node for
 * nothing (cycles are also run on every change, so no work is missed).
 */
export function hasTimedWork(db: Db): boolean {
  // Each EXISTS on its own so each is answered from an index (migration 6), never a table scan.
  const row = db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM workloads WHERE phase IN ('Pending', 'Deleting'))
       OR EXISTS (SELECT 1 FROM workloads WHERE below_min_since_ms IS NOT NULL)
       OR EXISTS (SELECT 1 FROM pods WHERE phase IN ('Bound', 'Stopping'))
       OR EXISTS (SELECT 1 FROM workloads w WHERE w.phase = 'Stopped' AND EXISTS
         (SELECT 1 FROM pods p WHERE p.workload = w.id AND p.phase IN ('Bound', 'Starting', 'Running', 'Unknown')))
       OR EXISTS (SELECT 1 FROM workloads w WHERE w.phase IN ('Running', 'Degraded', 'Initializing')
         AND ${jsonField(db.dialect, 'w.spec', 'maxReplicas', 'number')} > (SELECT COUNT(*) FROM pods p WHERE p.workload = w.id
           AND p.phase IN ('Bound', 'Starting', 'Running', 'Unknown'))) AS busy`,
    )
    .get() as { busy: number };
  return row.busy === 1;
}
