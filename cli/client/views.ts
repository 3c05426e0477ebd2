/**
 * What the client commands read from the API, as types, plus the few cell formats more than one
 * command shows (a workload's GPU request, its pods running of wanted). The types are the
 * allocator's own view functions' return types, imported as types only, so a renamed field breaks
 * the CLI's build rather than its output; no allocator code (or SQLite) loads with them.
 */
import type { NodePodView, NodeWithPoolView } from '../../allocator/api/node-routes.ts';
import type {
  departmentView,
  eventView,
  podView,
  poolView,
  projectView,
  QuotaView,
  workloadView,
} from '../../allocator/api/views.ts';
import { formatMemoryMiB } from '../../common/resources.ts';
import type { PodResources } from '../../common/workload.ts';

/** A workload as `GET /workloads/{id}` answers it. */
export type WorkloadView = ReturnType<typeof workloadView>;
/** One pod inside a `WorkloadView`. */
export type PodView = ReturnType<typeof podView>;
/** One event of `GET /workloads/{id}/events`. */
export type EventView = ReturnType<typeof eventView>;
/** A project as `GET /projects` answers it. */
export type ProjectView = ReturnType<typeof projectView>;
/** A department as `GET /departments` answers it. */
export type DepartmentView = ReturnType<typeof departmentView>;
/** A node pool as `GET /nodepools` answers it. */
export type PoolView = ReturnType<typeof poolView>;
/** A node as `GET /nodes` answers it, with the pool that claims it. */
export type NodeView = NodeWithPoolView;
/** What `POST /nodes/:name/drain` answers. */
export type { DrainReport } from '../../allocator/lifecycle/drain.ts';
/** One row of `GET /shares`. */
export type { ShareRow as ShareView } from '../../allocator/service/shares.ts';
/** A pod on a node as `GET /nodes/:name/pods` answers it. */
export type { NodePodView, QuotaView };

/** One pod's GPU request in the units it was asked in: '2', '0.5', '20GiB', with its limit, or '-'. */
export function gpuRequestText(resources: PodResources): string {
  const g = resources.gpu;
  switch (g.kind) {
    case 'none':
      return '-';
    case 'devices':
      return String(g.count);
    case 'fraction':
      return `${g.milli / 1000}${limitText(g.limitMilli, g.limitMiB)}`;
    case 'memory':
      return `${formatMemoryMiB(g.memoryMiB)}${limitText(g.limitMilli, g.limitMiB)}`;
  }
}

function limitText(limitMilli: number | undefined, limitMiB: number | undefined): string {
  if (limitMilli !== undefined) return ` (limit ${limitMilli / 1000})`;
  if (limitMiB !== undefined) return ` (limit ${formatMemoryMiB(limitMiB)})`;
  return '';
}

/** The GPUS cell of a listing: the per-pod request, times the replicas when there are several. */
export function gpusCell(w: Pick<WorkloadView, 'resources' | 'replicas'>): string {
  const perPod = gpuRequestText(w.resources);
  return w.replicas > 1 && perPod !== '-' ? `${w.replicas}x${perPod}` : perPod;
}

/** The PODS cell: pods running of the replicas wanted, e.g. '1/2'. */
export function podsCell(w: Pick<WorkloadView, 'pods' | 'replicas'>): string {
  return `${w.pods.filter((p) => p.phase === 'Running').length}/${w.replicas}`;
}
