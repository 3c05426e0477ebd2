/**
 * Where a served workload's replicas listen: the proxy reads them through `EndpointSource`, so it
 * does not care how ports are assigned. `storeEndpoints` is the implementation from the store.
 * An endpoint is a pod's node address and the host ports the allocator gave it at bind time.
 */
import type { WorkloadSpec } from '../../common/workload.ts';
import type { Db } from '../store/db.ts';
import { nodeAddresses } from '../store/nodes.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { findWorkload } from '../store/workloads.ts';

/** One replica's endpoint, as the workload JSON's `endpoints` lists it. */
export interface Endpoint {
  pod: string;
  node: string;
  address: string;
  /** Port name -> host port. */
  ports: Record<string, number>;
  ready: boolean;
}

/** The ready endpoints of a workload. */
export interface EndpointSource {
  /** The endpoints of `project`/`workload` that may take requests now; empty when none (or no such workload). */
  ready(project: string, workload: string): Endpoint[];
}

/** The port name the proxy sends to: the workspace tool's port, else the first one the endpoint has. */
export function servedPort(spec: Pick<WorkloadSpec, 'toolPort'>, e: Endpoint): number | undefined {
  if (spec.toolPort !== undefined && e.ports[spec.toolPort] !== undefined) return e.ports[spec.toolPort];
  return Object.values(e.ports)[0];
}

/**
 * The endpoints of a workload's placed pods that have ports, in pod order (`addresses`: node name
 * to address, store/nodes.ts nodeAddresses). A pod is ready when it is Running: with a readiness
 * probe the agent reports it Running only while the probe passes.
 */
export function endpointsOf(pods: readonly PodRecord[], addresses: ReadonlyMap<string, string>): Endpoint[] {
  const out: Endpoint[] = [];
  for (const p of pods) {
    const address = p.node === null ? undefined : addresses.get(p.node);
    if (p.node === null || address === undefined || Object.keys(p.ports).length === 0) continue;
    if (!SCHEDULED_POD_PHASES.includes(p.phase)) continue;
    out.push({ pod: p.name, node: p.node, address, ports: { ...p.ports }, ready: p.phase === 'Running' });
  }
  return out;
}

/** Endpoints read from the store on each call (a few rows by an indexed workload id). */
export function storeEndpoints(db: Db): EndpointSource {
  return {
    ready(project, name) {
      const w = findWorkload(db, project, name);
      if (w === undefined) return [];
      const pods = listPods(db, { workload: w.id, phases: ['Running'] });
      return endpointsOf(
        pods,
        nodeAddresses(
          db,
          pods.map((p) => p.node),
        ),
      ).filter((e) => e.ready);
    },
  };
}
