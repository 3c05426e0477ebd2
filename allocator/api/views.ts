/**
 * How stored records look on the wire (docs/architecture.md §7): GPUs as numbers of GPUs (the store keeps
 * milli-GPU), times as ISO strings, and no internal bookkeeping columns.
 */
import { formatDisconnectPolicy } from '../../common/disconnect.ts';
import { isServed, SERVE_PREFIX } from '../../common/workload-serving.ts';
import { endpointsOf } from '../serve/endpoints.ts';
import type { StoredEvent } from '../store/events.ts';
import type { NodeRecord } from '../store/nodes.ts';
import type { PoolRecord, QueueRecord, QuotaRecord } from '../store/org.ts';
import type { PodRecord } from '../store/pods.ts';
import type { WorkloadRecord } from '../store/workloads.ts';
import type { ServingView } from './context.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
/** -1 means "no limit" in the store and on the wire alike; anything else converts. */
const gpus = (milli: number): number => (milli < 0 ? -1 : milli / 1000);

/** A quota as the API shows it. */
export interface QuotaView {
  nodePool: string;
  gpu: number;
  overQuotaWeight: number;
  limit: number;
  cpuMillis: number;
  memoryMiB: number;
  limitCpuMillis: number;
  limitMemoryMiB: number;
}

/** A stored quota in the API's units. */
export function quotaView(q: QuotaRecord): QuotaView {
  return {
    nodePool: q.nodePool,
    gpu: gpus(q.deserved.gpuMilli),
    overQuotaWeight: q.overQuotaWeight,
    limit: gpus(q.limit.gpuMilli),
    cpuMillis: q.deserved.cpuMillis,
    memoryMiB: q.deserved.memoryMiB,
    limitCpuMillis: q.limit.cpuMillis,
    limitMemoryMiB: q.limit.memoryMiB,
  };
}

/** A department with its quotas. */
export function departmentView(q: QueueRecord, quotas: QuotaRecord[]) {
  return { name: q.name, createdAt: iso(q.createdMs), quotas: quotas.map(quotaView) };
}

/** A project with its department and quotas. */
export function projectView(q: QueueRecord, quotas: QuotaRecord[]) {
  return {
    name: q.name,
    department: q.parent,
    createdAt: iso(q.createdMs),
    quotas: quotas.map(quotaView),
  };
}

/** A node pool: selector and placement strategies. */
export function poolView(p: PoolRecord) {
  return {
    name: p.name,
    selector: p.selector,
    placement: { gpu: p.placementGpu, cpu: p.placementCpu },
    createdAt: iso(p.createdMs),
  };
}

/** A node with its inventory and marks. */
export function nodeView(n: NodeRecord) {
  return {
    name: n.name,
    labels: n.labels,
    adminLabels: n.adminLabels,
    gpus: n.gpus,
    cpuMillis: n.cpuMillis,
    memoryMiB: n.memoryMiB,
    schedulable: n.schedulable,
    cordoned: n.cordoned,
    lost: n.lost,
    lastSeenAt: iso(n.lastSeenMs),
    network: n.network,
  };
}

/** A pod inside a workload view. */
export function podView(p: PodRecord) {
  return {
    name: p.name,
    node: p.node,
    phase: p.phase,
    gpus: p.grants.map((g) => ({
      uuid: g.uuid,
      fraction: g.gpuMilli / 1000,
      memoryMiB: g.memoryMiB,
      memoryLimitMiB: g.memoryLimitMiB,
    })),
    exitCode: p.exitCode,
    ports: p.ports,
  };
}

/** Where a served workload is called, and how many replicas it has and wants (absent for other work). */
function servingView(
  w: WorkloadRecord,
  pods: PodRecord[],
  serving: ServingView | undefined,
): { url?: string; readyReplicas?: number; wantedReplicas?: number } {
  if (serving === undefined || !isServed(w.type)) return {};
  const wanted = serving.wanted(w.id);
  return {
    url: `${serving.baseUrl()}${SERVE_PREFIX}/${encodeURIComponent(w.project)}/${w.name}/`,
    // Running is ready: with a readiness probe the agent reports a pod Running only while it passes.
    readyReplicas: pods.filter((p) => p.phase === 'Running').length,
    ...(wanted === undefined ? {} : { wantedReplicas: wanted }),
  };
}

/**
 * A workload as read: its normalised spec plus id, phase, phaseReason, restarts, createdAt, pods and
 * the endpoints of those with ports (`addresses`: node name to address, store/nodes.ts
 * nodeAddresses); served types (inference, workspace) also their `url`, `readyReplicas` and,
 * autoscaled, `wantedReplicas`.
 */
export function workloadView(
  w: WorkloadRecord,
  pods: PodRecord[],
  addresses: ReadonlyMap<string, string> = new Map(),
  serving?: ServingView,
) {
  return {
    id: w.id,
    ...w.spec,
    // As a user writes it, beside the normalised `disconnect`.
    disconnectPolicy: formatDisconnectPolicy(w.spec.disconnect),
    phase: w.phase,
    phaseReason: w.phaseReason,
    // Restarts after pod failures (restartPolicy OnFailure), of at most backoffLimit.
    restarts: w.restarts,
    createdAt: iso(w.createdMs),
    pods: pods.map(podView),
    endpoints: endpointsOf(pods, addresses),
    ...servingView(w, pods, serving),
  };
}

/** One phase change of a workload. */
export function eventView(e: StoredEvent) {
  return {
    id: e.id,
    time: iso(e.timeMs),
    workload: e.workload,
    from: e.from,
    to: e.to,
    reason: e.reason,
    message: e.message,
  };
}
