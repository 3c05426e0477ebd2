/**
 * The synthetic cluster (bench/synthetic.ts) written into a real store: its nodes as agents would
 * register them, its departments, projects and quotas, and its pending workloads as submitted specs.
 * The cycle benchmarks then time the allocator's own path (snapshot from SQL, plan, commit, dispatch).
 */
import { type Db, inTransaction, openDb } from '../allocator/store/db.ts';
import { upsertNode } from '../allocator/store/nodes.ts';
import { createDepartment, createProject, setQuota } from '../allocator/store/org.ts';
import { submitSpec } from '../allocator/store/workloads.ts';
import { parseWorkloadSpec } from '../common/workload.ts';
import { SYNTHETIC_NOW_MS, syntheticCluster } from './synthetic.ts';

/** Sizes of a stored cluster. */
export interface StoreClusterOptions {
  nodes: number;
  gpusPerNode: number;
  pending: number;
  projects: number;
  departments: number;
  seed: number;
}

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Opens a store in `dataDir` holding the synthetic cluster of `opts`; returns it and the instant it was written at. */
export function storeCluster(dataDir: string, opts: StoreClusterOptions): { db: Db; nowMs: number } {
  const snap = syntheticCluster({ ...opts, placement: 'binpack' });
  const db = openDb({ dataDir });
  const nowMs = SYNTHETIC_NOW_MS;
  inTransaction(db, () => {
    for (const n of snap.nodes)
      upsertNode(
        db,
        {
          name: n.name,
          labels: { ...n.labels },
          gpus: [...n.gpus],
          cpuMillis: n.cpuMillis,
          memoryMiB: n.memoryMiB,
        },
        nowMs,
      );
    for (const q of snap.queues) {
      if (q.parent === null) must(createDepartment(db, q.name, nowMs));
      else must(createProject(db, q.name, q.parent, nowMs));
      for (const [pool, quota] of Object.entries(q.quotas))
        must(
          setQuota(db, q.name, pool, { deserved: quota.deserved, overQuotaWeight: quota.overQuotaWeight }),
        );
    }
    for (const g of snap.groups) {
      const gpu = g.request.gpu;
      const resources =
        gpu.kind === 'devices'
          ? { gpuDevices: gpu.count }
          : gpu.kind === 'fraction'
            ? { gpuFraction: String(gpu.milli / 1000) }
            : {};
      const spec = must(
        parseWorkloadSpec({
          name: g.name,
          project: g.queue,
          type: g.maxMember > 1 ? 'distributed' : 'training',
          command: ['sleep', '3600'],
          minReplicas: g.minMember,
          maxReplicas: g.maxMember,
          replicas: g.minMember,
          resources: { ...resources, cpuMillis: g.request.cpuMillis, memoryMiB: g.request.memoryMiB },
        }),
      );
      must(submitSpec(db, spec, g.createdAtMs, { id: g.id }));
    }
  });
  return { db, nowMs };
}
