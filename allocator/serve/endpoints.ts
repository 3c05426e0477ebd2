/**
 * Where a served workload's replicas listen: the proxy reads them through `EndpointSource`, so it
 * does not care how ports are assigned. `storeEndpoints` is the implementation from the store.
 *
 * MERGE SEAM (ports and readiness are built beside this file): today a pod is counted ready when
 * it is Running, its address is 127.0.0.1 (nodes do not report one yet) and its one port is the
 * spec's `env.PORT`. Once pods store their assigned host ports and nodes their address, and agents
 * report readiness, replace `podEndpoint` with the ports part's own endpoint list (the workload
 * JSON's `endpoints`) filtered on `ready`; nothing else in allocator/serve changes.
 */
import type { WorkloadSpec } from '../../common/workload.ts';
import type { Db } from '../store/db.ts';
import { listPods, type PodRecord } from '../store/pods.ts';
import { findWorkload, type WorkloadRecord } from '../store/workloads.ts';

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

/** Stand-in until pods carry their ports: the spec's fixed `PORT` variable, named `http`. */
function podPorts(spec: WorkloadSpec): Record<string, number> {
  const port = Number(spec.env.PORT);
  return Number.isInteger(port) && port > 0 && port < 65536 ? { http: port } : {};
}

function podEndpoint(w: WorkloadRecord, p: PodRecord): Endpoint | null {
  if (p.node === null) return null;
  return {
    pod: p.name,
    node: p.node,
    address: '127.0.0.1',
    ports: podPorts(w.spec),
    ready: p.phase === 'Running',
  };
}

/** Endpoints read from the store on each call (a few rows by an indexed workload id). */
export function storeEndpoints(db: Db): EndpointSource {
  return {
    ready(project, name) {
      const w = findWorkload(db, project, name);
      if (w === undefined) return [];
      return listPods(db, { workload: w.id, phases: ['Running'] })
        .map((p) => podEndpoint(w, p))
        .filter((e): e is Endpoint => e?.ready === true && Object.keys(e.ports).length > 0);
    },
  };
}
