/**
 * How stored records look on the wire (docs/architecture.md §7): GPUs as numbers of GPUs (the store keeps
 * milli-GPU), times as ISO strings, and no internal bookkeeping columns.
 */
import { formatDisconnectPolicy } from '../../common/disconnect.ts';
import type { StoredEvent } from '../store/events.ts';
import type { NodeRecord } from '../store/nodes.ts';
import type { PoolRecord, QueueRecord, QuotaRecord } from '../store/org.ts';
import { type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import type { WorkloadRecord } from '../store/workloads.ts';

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

/** Where one placed pod is reached: its node's address and its host ports by name. */
export interface EndpointView {
  pod: string;
  node: string;
  address: string;
  ports: Record<string, number>;
  /** It runs (and, with a readiness probe, passes it): a client may be sent to it. */
  ready: boolean;
}

/** The endpoints of a workload's placed pods that have ports, in pod order; `addresses` maps node to address. */
export function endpointsOf(
  pods: readonly PodRecord[],
  addresses: ReadonlyMap<string, string>,
): EndpointView[] {
  const out: EndpointView[] = [];
  for (const p of pods) {
    const address = p.node === null ? undefined : addresses.get(p.node);
    if (p.node === null || address === undefined || Object.keys(p.ports).length === 0) continue;
    if (!SCHEDULED_POD_PHASES.includes(p.phase)) continue;
    out.push({ pod: p.name, node: p.node, address, ports: { ...p.ports }, ready: p.phase === 'Running' });
  }
  return out;
}

/**
 * A workload as read: its normalised spec plus id, phase, phaseReason, createdAt, pods and the
 * endpoints of those with ports (`addresses`: node name to address, store/nodes.ts nodeAddresses).
 */
export function workloadView(
  w: WorkloadRecord,
  pods: PodRecord[],
  addresses: ReadonlyMap<string, string> = new Map(),
) {
  return {
    id: w.id,
    ...w.spec,
    // As a user writes it, beside the normalised `disconnect`.
    disconnectPolicy: formatDisconnectPolicy(w.spec.disconnect),
    phase: w.phase,
    phaseReason: w.phaseReason,
    createdAt: iso(w.createdMs),
    pods: pods.map(podView),
    endpoints: endpointsOf(pods, addresses),
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
