/**
 * Pods and their assignments. A pod row is the quota accounting of a bind (its resources are
 * committed with it); an assignment is one placement of a pod on a node with its fencing epoch.
 */
import { type PodPhase, podTransition, SCHEDULED_POD_PHASES } from '../../common/phases.ts';
import type { GpuGrant } from '../../common/resources.ts';
import type { Db } from './db.ts';
import { jsonArrayRows } from './dialect.ts';
import { fail, StoreError } from './errors.ts';

/**
 * Pod phases in which a pod holds its node's resources and counts against its quota: the placed
 * ones, and Stopping, whose resources are freed when its node confirms the stop.
 */
export const ACTIVE_POD_PHASES: readonly PodPhase[] = [...SCHEDULED_POD_PHASES, 'Stopping'];

/** Re-exported for the store's readers: the phases are common/phases.ts's. */
export { SCHEDULED_POD_PHASES };

/** A pod as stored. */
export interface PodRecord {
  workload: string;
  name: string;
  node: string | null;
  grants: GpuGrant[];
  gpuMilli: number;
  cpuMillis: number;
  memoryMiB: number;
  phase: PodPhase;
  boundMs: number | null;
  exitCode: number | null;
  /** Why it is in its phase (its last move's reason); null in rows older than that record. */
  reason: string | null;
  /** Its host ports by name, assigned when it was bound (store/ports.ts); empty: none. */
  ports: Record<string, number>;
  /** Epoch of its newest assignment; 0 when never assigned. */
  epoch: number;
}

/** One placement of a pod: `epoch` grows on every reassignment of the same pod. */
export interface AssignmentRecord {
  workload: string;
  pod: string;
  node: string;
  epoch: number;
  state: 'active' | 'stopping' | 'ended';
  createdMs: number;
}

interface PodRow {
  workload: string;
  name: string;
  node: string | null;
  grants: string;
  gpu_milli: number;
  cpu_millis: number;
  memory_mib: number;
  phase: string;
  bound_ms: number | null;
  exit_code: number | null;
  reason: string | null;
  ports: string | null;
  epoch: number;
}

const POD_SELECT = `SELECT p.*, COALESCE((SELECT MAX(epoch) FROM assignments a
  WHERE a.workload = p.workload AND a.pod = p.name), 0) AS epoch FROM pods p`;

function toPod(r: PodRow): PodRecord {
  return {
    workload: r.workload,
    name: r.name,
    node: r.node,
    // Our own JSON and phases, written from typed values.
    grants: JSON.parse(r.grants) as GpuGrant[],
    gpuMilli: r.gpu_milli,
    cpuMillis: r.cpu_millis,
    memoryMiB: r.memory_mib,
    phase: r.phase as PodPhase,
    boundMs: r.bound_ms,
    exitCode: r.exit_code,
    reason: r.reason,
    ports: r.ports === null ? {} : (JSON.parse(r.ports) as Record<string, number>),
    epoch: r.epoch,
  };
}

/** A pod's host ports by name (`{}` when it has none): what its env and its endpoints are built from. */
export function podPorts(pod: Pick<PodRecord, 'ports'>): Record<string, number> {
  return pod.ports;
}

/** Pods, filtered by workload (one, or any of a list), node and phases, ordered by workload then name. */
export function listPods(
  db: Db,
  filter: {
    workload?: string;
    workloads?: readonly string[];
    node?: string;
    phases?: readonly PodPhase[];
  } = {},
): PodRecord[] {
  // Only the filters given make the WHERE, so SQLite and PostgreSQL use the index each names (a
  // `@x IS NULL OR col = @x` form scans every pod: per node, over thousands of silent nodes, that held
  // the event loop for seconds). Phases filter in SQL: the dispatcher asks for the few Bound /
  // Stopping pods among many.
  const where: string[] = [];
  const args: Record<string, string> = {};
  if (filter.workload !== undefined) {
    where.push('p.workload = @w');
    args.w = filter.workload;
  }
  if (filter.node !== undefined) {
    where.push('p.node = @n');
    args.n = filter.node;
  }
  if (filter.workloads !== undefined) {
    where.push(`p.workload IN (${jsonArrayRows(db.dialect, '@ws')})`);
    args.ws = JSON.stringify(filter.workloads);
  }
  if (filter.phases !== undefined) {
    where.push(`p.phase IN (${jsonArrayRows(db.dialect, '@phases')})`);
    args.phases = JSON.stringify(filter.phases);
  }
  const statement = db.prepare(
    `${POD_SELECT}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY p.workload, p.name`,
  );
  const rows = (where.length === 0 ? statement.all() : statement.all(args)) as PodRow[];
  return rows.map(toPod);
}

/**
 * One workload's pods in `phases`, by name: read through the primary key, so asking it for every
 * workload of a large plan (the dispatcher's gangs) costs each workload's own pods only.
 */
export function podsOfWorkload(db: Db, workload: string, phases: readonly PodPhase[]): PodRecord[] {
  const rows = db
    .prepare(
      `${POD_SELECT} WHERE p.workload = ? AND p.phase IN (${phases.map(() => '?').join(', ')}) ORDER BY p.name`,
    )
    .all(workload, ...phases) as PodRow[];
  return rows.map(toPod);
}

/**
 * A page of the pods in `phase`, in the order they were first written, after row `afterRowid`
 * (0: from the start): the dispatcher reads thousands of newly bound pods a page at a time, each page
 * one range of the pods_phase index, so no single read holds the event loop.
 */
export function podsInPhase(
  db: Db,
  phase: PodPhase,
  afterRowid: number,
  limit: number,
): { rowid: number; pod: PodRecord }[] {
  const rows = db
    .prepare(
      `SELECT p.rowid AS rid, p.*, COALESCE((SELECT MAX(epoch) FROM assignments a
         WHERE a.workload = p.workload AND a.pod = p.name), 0) AS epoch FROM pods p
       WHERE p.phase = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?`,
    )
    .all(phase, afterRowid, limit) as (PodRow & { rid: number })[];
  return rows.map((r) => ({ rowid: r.rid, pod: toPod(r) }));
}

/** One pod, or undefined. */
export function getPod(db: Db, workload: string, name: string): PodRecord | undefined {
  const r = db.prepare(`${POD_SELECT} WHERE p.workload = ? AND p.name = ?`).get(workload, name) as
    | PodRow
    | undefined;
  return r === undefined ? undefined : toPod(r);
}

/** Every assignment of a pod, oldest epoch first. */
export function listAssignments(db: Db, workload: string, pod: string): AssignmentRecord[] {
  const rows = db
    .prepare('SELECT * FROM assignments WHERE workload = ? AND pod = ? ORDER BY epoch')
    .all(workload, pod) as {
    workload: string;
    pod: string;
    node: string;
    epoch: number;
    state: string;
    created_ms: number;
  }[];
  return rows.map((r) => ({
    workload: r.workload,
    pod: r.pod,
    node: r.node,
    epoch: r.epoch,
    state: r.state as AssignmentRecord['state'],
    createdMs: r.created_ms,
  }));
}

/**
 * Moves a pod to `to` through the pod phase table; throws `StoreError` on an illegal move so an
 * enclosing transaction rolls back. Leaving the node (Stopped, Failed, Succeeded, Pending) ends
 * its assignment.
 */
export function movePod(db: Db, workload: string, name: string, to: PodPhase, reason: string): PodRecord {
  const pod = getPod(db, workload, name);
  if (pod === undefined) fail('TESSERA_E_NOT_FOUND', `no pod ${name} in workload ${workload}`);
  const t = podTransition(pod.phase, to, reason);
  if (!t.ok) throw new StoreError(t.error);
  db.prepare('UPDATE pods SET phase = ?, reason = ? WHERE workload = ? AND name = ?').run(
    to,
    reason,
    workload,
    name,
  );
  if (to === 'Stopping') {
    db.prepare(
      "UPDATE assignments SET state = 'stopping' WHERE workload = ? AND pod = ? AND state = 'active'",
    ).run(workload, name);
  } else if (!ACTIVE_POD_PHASES.includes(to)) {
    db.prepare(
      "UPDATE assignments SET state = 'ended' WHERE workload = ? AND pod = ? AND state != 'ended'",
    ).run(workload, name);
  }
  return { ...pod, phase: to, reason };
}
/** Records how a pod's process ended. */
export function setPodExitCode(db: Db, workload: string, name: string, exitCode: number): void {
  db.prepare('UPDATE pods SET exit_code = ? WHERE workload = ? AND name = ?').run(exitCode, workload, name);
}

/**
 * When each Succeeded pod of a workload in one of `workloadPhases` was bound, by workload: the
 * scheduler counts a pod that finished its part as a member that is done, not one to replace.
 */
export function succeededBindTimes(db: Db, workloadPhases: readonly string[]): Map<string, number[]> {
  const marks = workloadPhases.map(() => '?').join(', ');
  const rows = db
    .prepare(
      `SELECT p.workload AS workload, p.bound_ms AS bound_ms FROM pods p JOIN workloads w ON w.id = p.workload
       WHERE p.phase = 'Succeeded' AND w.phase IN (${marks})`,
    )
    .all(...workloadPhases) as { workload: string; bound_ms: number | null }[];
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const list = out.get(r.workload) ?? [];
    list.push(r.bound_ms ?? 0);
    out.set(r.workload, list);
  }
  return out;
}
