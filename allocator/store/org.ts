/**
 * The organisation (docs/architecture.md §2): departments, projects, their per-pool quotas, and node pools.
 * Department and project names share one namespace because both are scheduler queues.
 */
import type { Result } from '../../common/errors.ts';
import type { Resources } from '../../common/resources.ts';
import type { PlacementStrategy } from '../scheduler/snapshot.ts';
import { type Db, inTransaction } from './db.ts';
import { fail, guard } from './errors.ts';

/** A department or project as stored. */
export interface QueueRecord {
  name: string;
  /** null for a department, its department for a project. */
  parent: string | null;
  createdMs: number;
}

/** A queue's quota in one pool, normalised; -1 in a limit = none. */
export interface QuotaRecord {
  queue: string;
  nodePool: string;
  deserved: Resources;
  overQuotaWeight: number;
  limit: Resources;
}

/** A quota as a caller writes it: omitted fields default to weight 1 and limit -1. */
export interface QuotaInput {
  deserved?: Partial<Resources>;
  overQuotaWeight?: number;
  limit?: Partial<Resources>;
}

/** A node pool: a label selector and its placement strategies. */
export interface PoolRecord {
  name: string;
  selector: Record<string, string>;
  placementGpu: PlacementStrategy;
  placementCpu: PlacementStrategy;
  createdMs: number;
}

/** The implicit pool of nodes no selector matches. */
export const DEFAULT_POOL = 'default';

function queueExists(db: Db, name: string): boolean {
  return (
    db
      .prepare('SELECT 1 FROM departments WHERE name = ? UNION SELECT 1 FROM projects WHERE name = ?')
      .get(name, name) !== undefined
  );
}

/** Creates a department. */
export function createDepartment(db: Db, name: string, nowMs: number): Result<QueueRecord> {
  return guard(() =>
    inTransaction(db, () => {
      if (queueExists(db, name)) fail('TESSERA_E_CONFLICT', `a department or project named ${name} exists`);
      db.prepare('INSERT INTO departments (name, created_ms) VALUES (?, ?)').run(name, nowMs);
      return { name, parent: null, createdMs: nowMs };
    }),
  );
}

/** Creates a project in an existing department. */
export function createProject(db: Db, name: string, department: string, nowMs: number): Result<QueueRecord> {
  return guard(() =>
    inTransaction(db, () => {
      if (queueExists(db, name)) fail('TESSERA_E_CONFLICT', `a department or project named ${name} exists`);
      if (db.prepare('SELECT 1 FROM departments WHERE name = ?').get(department) === undefined)
        fail('TESSERA_E_NOT_FOUND', `department ${department} does not exist`, { department });
      db.prepare('INSERT INTO projects (name, department, created_ms) VALUES (?, ?, ?)').run(
        name,
        department,
        nowMs,
      );
      return { name, parent: department, createdMs: nowMs };
    }),
  );
}

interface QueueRow {
  name: string;
  parent: string | null;
  created_ms: number;
}

/** Departments then projects, each in creation order (the scheduler's tie-break order). */
export function listQueues(db: Db): QueueRecord[] {
  const rows = db
    .prepare(
      `SELECT name, NULL AS parent, created_ms, 0 AS k, rowid AS r FROM departments
       UNION ALL SELECT name, department, created_ms, 1, rowid FROM projects
       ORDER BY created_ms, k, r`,
    )
    .all() as QueueRow[];
  return rows.map((r) => ({ name: r.name, parent: r.parent, createdMs: r.created_ms }));
}

/** Whether a department named `name` exists. */
export function departmentExists(db: Db, name: string): boolean {
  return db.prepare('SELECT 1 FROM departments WHERE name = ?').get(name) !== undefined;
}

/** One department or project, or undefined. */
export function getQueue(db: Db, name: string): QueueRecord | undefined {
  return listQueues(db).find((q) => q.name === name);
}

/** Deletes a department (refused while it has projects) or a project (refused while it has workloads). */
export function deleteQueue(db: Db, name: string): Result<void> {
  return guard(() =>
    inTransaction(db, () => {
      if (db.prepare('SELECT 1 FROM projects WHERE department = ?').get(name) !== undefined)
        fail('TESSERA_E_CONFLICT', `department ${name} still has projects; delete them first`);
      if (db.prepare('SELECT 1 FROM workloads WHERE project = ?').get(name) !== undefined)
        fail('TESSERA_E_CONFLICT', `project ${name} still has workloads; delete them first`);
      const a = db.prepare('DELETE FROM projects WHERE name = ?').run(name).changes;
      const b = db.prepare('DELETE FROM departments WHERE name = ?').run(name).changes;
      if (a + b === 0) fail('TESSERA_E_NOT_FOUND', `no department or project named ${name}`);
      db.prepare('DELETE FROM quotas WHERE queue = ?').run(name);
      // What named it goes with it: a later queue of the same name must not inherit its grants or policies.
      const kind = a > 0 ? 'project' : 'department';
      db.prepare('DELETE FROM access_rules WHERE scope = ?').run(`${kind}/${name}`);
      db.prepare('DELETE FROM policies WHERE scope = ?').run(`${kind}:${name}`);
      db.prepare('DELETE FROM scheduling_rules WHERE scope = ?').run(`${kind}:${name}`);
    }),
  );
}

/** Sets (creates or replaces) a queue's quota in one pool. */
export function setQuota(db: Db, queue: string, nodePool: string, q: QuotaInput): Result<QuotaRecord> {
  return guard(() => {
    if (!queueExists(db, queue)) fail('TESSERA_E_NOT_FOUND', `no department or project named ${queue}`);
    const rec: QuotaRecord = {
      queue,
      nodePool,
      deserved: { gpuMilli: 0, cpuMillis: 0, memoryMiB: 0, ...q.deserved },
      overQuotaWeight: q.overQuotaWeight ?? 1,
      limit: { gpuMilli: -1, cpuMillis: -1, memoryMiB: -1, ...q.limit },
    };
    checkWithinDepartment(db, rec);
    db.prepare(
      `INSERT INTO quotas (queue, node_pool, gpu_milli, over_quota_weight, limit_gpu_milli,
         cpu_millis, limit_cpu_millis, memory_mib, limit_memory_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (queue, node_pool) DO UPDATE SET gpu_milli = excluded.gpu_milli,
         over_quota_weight = excluded.over_quota_weight, limit_gpu_milli = excluded.limit_gpu_milli,
         cpu_millis = excluded.cpu_millis, limit_cpu_millis = excluded.limit_cpu_millis,
         memory_mib = excluded.memory_mib, limit_memory_mib = excluded.limit_memory_mib`,
    ).run(
      queue,
      nodePool,
      rec.deserved.gpuMilli,
      rec.overQuotaWeight,
      rec.limit.gpuMilli,
      rec.deserved.cpuMillis,
      rec.limit.cpuMillis,
      rec.deserved.memoryMiB,
      rec.limit.memoryMiB,
    );
    return rec;
  });
}

const DIMENSIONS = [
  ['gpuMilli', 'gpu_milli', 'limit_gpu_milli', 'GPU milli-units'],
  ['cpuMillis', 'cpu_millis', 'limit_cpu_millis', 'CPU millicores'],
  ['memoryMiB', 'memory_mib', 'limit_memory_mib', 'memory MiB'],
] as const;

/**
 * A department's quota caps its projects': in a pool where the department has a
 * quota, its projects' deserved may not sum past the department's and no project's limit may pass
 * the department's limit; lowering a department below what its projects already hold is refused too.
 */
function checkWithinDepartment(db: Db, rec: QuotaRecord): void {
  const row = (queue: string) =>
    db.prepare('SELECT * FROM quotas WHERE queue = ? AND node_pool = ?').get(queue, rec.nodePool) as
      | QuotaRow
      | undefined;
  const project = db.prepare('SELECT department FROM projects WHERE name = ?').get(rec.queue) as
    | { department: string }
    | undefined;
  const dept = project?.department ?? rec.queue;
  const deptQuota = project === undefined ? toRow(rec) : row(dept);
  if (deptQuota === undefined) return;
  const siblings = db
    .prepare(
      `SELECT q.* FROM quotas q JOIN projects p ON p.name = q.queue
       WHERE p.department = ? AND q.node_pool = ? AND q.queue != ?`,
    )
    .all(dept, rec.nodePool, rec.queue) as QuotaRow[];
  const mine = project === undefined ? [] : [toRow(rec)];
  for (const [field, col, limitCol, unit] of DIMENSIONS) {
    const total = [...siblings, ...mine].reduce((sum, r) => sum + r[col], 0);
    if (total > deptQuota[col])
      fail(
        'TESSERA_E_CONFLICT',
        `projects of department ${dept} would hold ${total} ${unit} deserved in pool ${rec.nodePool}, over the department's ${deptQuota[col]}; lower a project's quota or raise the department's`,
        { field: `quotas.${field}` },
      );
    const cap = deptQuota[limitCol];
    if (project !== undefined && cap !== -1 && rec.limit[field] > cap)
      fail(
        'TESSERA_E_CONFLICT',
        `project ${rec.queue}'s limit of ${rec.limit[field]} ${unit} in pool ${rec.nodePool} is over department ${dept}'s limit ${cap}`,
        { field: `quotas.${field}` },
      );
  }
}

/** A quota as its table row. */
function toRow(r: QuotaRecord): QuotaRow {
  return {
    queue: r.queue,
    node_pool: r.nodePool,
    gpu_milli: r.deserved.gpuMilli,
    over_quota_weight: r.overQuotaWeight,
    limit_gpu_milli: r.limit.gpuMilli,
    cpu_millis: r.deserved.cpuMillis,
    limit_cpu_millis: r.limit.cpuMillis,
    memory_mib: r.deserved.memoryMiB,
    limit_memory_mib: r.limit.memoryMiB,
  };
}

interface QuotaRow {
  queue: string;
  node_pool: string;
  gpu_milli: number;
  over_quota_weight: number;
  limit_gpu_milli: number;
  cpu_millis: number;
  limit_cpu_millis: number;
  memory_mib: number;
  limit_memory_mib: number;
}

/** Every quota, or one queue's. */
export function listQuotas(db: Db, queue?: string): QuotaRecord[] {
  const rows = db
    .prepare('SELECT * FROM quotas WHERE (CAST(@q AS TEXT) IS NULL OR queue = @q) ORDER BY queue, node_pool')
    .all({ q: queue ?? null }) as QuotaRow[];
  return rows.map((r) => ({
    queue: r.queue,
    nodePool: r.node_pool,
    deserved: { gpuMilli: r.gpu_milli, cpuMillis: r.cpu_millis, memoryMiB: r.memory_mib },
    overQuotaWeight: r.over_quota_weight,
    limit: { gpuMilli: r.limit_gpu_milli, cpuMillis: r.limit_cpu_millis, memoryMiB: r.limit_memory_mib },
  }));
}

/** Removes a queue's quota in one pool. */
export function deleteQuota(db: Db, queue: string, nodePool: string): boolean {
  return db.prepare('DELETE FROM quotas WHERE queue = ? AND node_pool = ?').run(queue, nodePool).changes > 0;
}

/** Creates or replaces a node pool. */
export function putPool(
  db: Db,
  pool: Omit<PoolRecord, 'createdMs' | 'placementCpu'> & { placementCpu?: PlacementStrategy },
  nowMs: number,
): PoolRecord {
  const rec: PoolRecord = {
    ...pool,
    placementCpu: pool.placementCpu ?? pool.placementGpu,
    createdMs: nowMs,
  };
  db.prepare(
    `INSERT INTO node_pools (name, selector, placement_gpu, placement_cpu, created_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET selector = excluded.selector, placement_gpu = excluded.placement_gpu,
       placement_cpu = excluded.placement_cpu`,
  ).run(rec.name, JSON.stringify(rec.selector), rec.placementGpu, rec.placementCpu, nowMs);
  return getPool(db, rec.name) ?? rec;
}

interface PoolRow {
  name: string;
  selector: string;
  placement_gpu: string;
  placement_cpu: string;
  created_ms: number;
}

function toPool(r: PoolRow): PoolRecord {
  return {
    name: r.name,
    // Written by putPool from typed values; re-reading our own JSON.
    selector: JSON.parse(r.selector) as Record<string, string>,
    placementGpu: r.placement_gpu as PlacementStrategy,
    placementCpu: r.placement_cpu as PlacementStrategy,
    createdMs: r.created_ms,
  };
}

/** Node pools in creation order: the first whose selector matches a node claims it. */
export function listPools(db: Db): PoolRecord[] {
  return (db.prepare('SELECT * FROM node_pools ORDER BY created_ms, rowid').all() as PoolRow[]).map(toPool);
}

/** One node pool, or undefined. */
export function getPool(db: Db, name: string): PoolRecord | undefined {
  const r = db.prepare('SELECT * FROM node_pools WHERE name = ?').get(name) as PoolRow | undefined;
  return r === undefined ? undefined : toPool(r);
}

/** Deletes a node pool and its quotas; its nodes fall back to `default`. */
export function deletePool(db: Db, name: string): boolean {
  return inTransaction(db, () => {
    db.prepare('DELETE FROM quotas WHERE node_pool = ?').run(name);
    return db.prepare('DELETE FROM node_pools WHERE name = ?').run(name).changes > 0;
  });
}
