/**
 * Commits a scheduler plan (docs/architecture.md §6): pods, assignments with their epochs, quota
 * accounting and phase changes are durable before anything is dispatched. `applyPlan` writes it in
 * ONE transaction and a failure anywhere writes nothing; `applyPlanInSlices` (the allocator's path,
 * docs/architecture.md §3 "Cycles off the event loop") writes it a few workloads per transaction
 * and leaves out, whole, each workload whose part the store refuses by then. Returns what the link
 * must send.
 *
 * Both check every part against the store as it is when written (the workload still scheduled, the
 * evicted pod where the plan says, the node there and not lost, its GPUs still reported, the pod not
 * already placed): a plan made from an older snapshot is refused by throwing, never half-applied.
 */
import type { WorkloadPhase } from '../../common/phases.ts';
import type { GpuGrant } from '../../common/resources.ts';
import type { Slicer } from '../../common/slicer.ts';
import type { ActionName, Bind, Eviction, Plan, PlannedPhaseChange } from '../scheduler/plan.ts';
import { type Db, inTransaction } from './db.ts';
import { fail, StoreError } from './errors.ts';
import { getNode } from './nodes.ts';
import { getPod, movePod, SCHEDULED_POD_PHASES } from './pods.ts';
import { assignPorts } from './ports.ts';
import { SCHEDULED_PHASES } from './snapshot.ts';
import { getWorkload, moveWorkload, type WorkloadRecord } from './workloads.ts';

/** Start a pod on its node at this epoch (an agent acts only on the newest epoch it has seen). */
export interface PlannedStart {
  workload: string;
  pod: string;
  node: string;
  epoch: number;
  grants: GpuGrant[];
}

/** Stop the pod's assignment of this epoch. */
export interface PlannedStop {
  workload: string;
  pod: string;
  node: string;
  epoch: number;
  reason: string;
}

/** A workload phase change the plan caused, as stored in its event. */
export interface AppliedPhaseChange {
  workload: string;
  from: WorkloadPhase;
  to: WorkloadPhase;
  reason: string;
}

/** What a committed plan asks the link to dispatch, and the phase changes it made. */
export interface AppliedPlan {
  starts: PlannedStart[];
  stops: PlannedStop[];
  phaseChanges: AppliedPhaseChange[];
}

/** The event reason of a workload sent back to Pending, by the action that evicted it; the plan's words go in the message. */
export const EVICTION_REASONS: Readonly<Record<ActionName, string>> = {
  allocate: 'Preempted',
  consolidate: 'Consolidated',
  reclaim: 'Reclaimed',
  preempt: 'Preempted',
  elastic: 'Shrunk',
  'stale-gang': 'StaleGang',
};

function scheduledWorkload(db: Db, id: string, what: string): WorkloadRecord {
  const w = getWorkload(db, id);
  if (w === undefined)
    fail('TESSERA_E_NOT_FOUND', `plan ${what} for unknown workload ${id}`, { workload: id });
  if (!SCHEDULED_PHASES.includes(w.phase))
    fail('TESSERA_E_CONFLICT', `plan ${what} for workload ${w.name}, which is ${w.phase}`, { workload: id });
  return w;
}

/** The ordinal N of pod `<workload name>-N`, or -1 when the name has another shape. */
function ordinalOf(workloadName: string, pod: string): number {
  const prefix = `${workloadName}-`;
  if (!pod.startsWith(prefix)) return -1;
  const n = Number(pod.slice(prefix.length));
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/** Applies `plan` at `nowMs` in one transaction; throws (writing nothing) if any step fails. */
export function applyPlan(db: Db, plan: Plan, nowMs: number): AppliedPlan {
  return inTransaction(db, (): AppliedPlan => {
    const out: AppliedPlan = { starts: [], stops: [], phaseChanges: [] };
    for (const unit of planUnits(plan)) applyUnit(db, unit, nowMs, out);
    return out;
  });
}

/** What `applyPlanInSlices` committed, and the groups it left out because the store moved on. */
export interface SlicedApply extends AppliedPlan {
  /** Workloads whose part of the plan was refused (stopped, deleted, or a node lost meanwhile). */
  skipped: { workload: string; why: string }[];
}

/**
 * Applies `plan` in short transactions, pausing between them (`slicer`), so a plan of thousands of
 * binds never holds the event loop. Other writes (pod reports, API calls) may land between slices,
 * or between the snapshot and the first slice when the plan was made off the event loop: each
 * workload's part (its evictions and phase change, or its binds) is checked against the store as it
 * is now, by the same checks `applyPlan` throws from, and left out whole when they refuse; a gang is
 * never split across slices. Nothing the plan did not decide can take capacity in between (only a
 * plan binds), so what is still applied still fits. `observe` wraps each slice's transaction (metrics).
 */
export async function applyPlanInSlices(
  db: Db,
  plan: Plan,
  nowMs: number,
  slicer: Slicer,
  observe: <T>(fn: () => T) => T = (fn) => fn(),
): Promise<SlicedApply> {
  const out: SlicedApply = { starts: [], stops: [], phaseChanges: [], skipped: [] };
  const units = planUnits(plan);
  let i = 0;
  while (i < units.length) {
    observe(() =>
      inTransaction(db, () => {
        do {
          const unit = units[i++] as PlanUnit;
          const part: AppliedPlan = { starts: [], stops: [], phaseChanges: [] };
          try {
            // A savepoint: a unit the store refuses leaves no trace, the rest of the slice stays.
            inTransaction(db, () => applyUnit(db, unit, nowMs, part));
          } catch (e) {
            if (!(e instanceof StoreError)) throw e;
            out.skipped.push({ workload: unit.group, why: e.message });
            continue;
          }
          out.starts.push(...part.starts);
          out.stops.push(...part.stops);
          out.phaseChanges.push(...part.phaseChanges);
        } while (i < units.length && !slicer.due());
      }),
    );
    if (i < units.length) await slicer.pause();
  }
  return out;
}

/** One workload's part of a plan: its evictions and phase change, or its binds; applied whole or not at all. */
interface PlanUnit {
  group: string;
  evictions: Eviction[];
  phaseChange: PlannedPhaseChange | undefined;
  binds: Bind[];
}

/**
 * The plan cut by workload, in the order `applyPlan` has always written it: every eviction (with
 * its workload's phase change) before any bind, since binds may reuse what evictions free.
 */
function planUnits(plan: Plan): PlanUnit[] {
  const evicting = new Map<string, PlanUnit>();
  const unit = (map: Map<string, PlanUnit>, group: string): PlanUnit => {
    let u = map.get(group);
    if (u === undefined) {
      u = { group, evictions: [], phaseChange: undefined, binds: [] };
      map.set(group, u);
    }
    return u;
  };
  for (const e of plan.evictions) unit(evicting, e.group).evictions.push(e);
  for (const c of plan.phaseChanges) unit(evicting, c.group).phaseChange = c;
  const binding = new Map<string, PlanUnit>();
  for (const b of plan.binds) unit(binding, b.group).binds.push(b);
  return [...evicting.values(), ...binding.values()];
}

/** Writes one unit; throws a StoreError (the caller's transaction writes nothing) when the store refuses it. */
function applyUnit(db: Db, unit: PlanUnit, nowMs: number, out: AppliedPlan): void {
  for (const e of unit.evictions) {
    scheduledWorkload(db, e.group, `evicts ${e.pod}`);
    const pod = getPod(db, e.group, e.pod);
    if (pod === undefined || pod.node !== e.node || !SCHEDULED_POD_PHASES.includes(pod.phase))
      fail('TESSERA_E_CONFLICT', `plan evicts ${e.pod} of ${e.group} from ${e.node}, where it does not run`);
    // The assignment row stays (state stopping) until the agent confirms the stop.
    movePod(db, e.group, e.pod, 'Stopping', e.reason);
    out.stops.push({ workload: e.group, pod: e.pod, node: e.node, epoch: pod.epoch, reason: e.reason });
  }
  const c = unit.phaseChange;
  if (c !== undefined) {
    const action = unit.evictions[0]?.action;
    const reason = action === undefined ? 'Preempted' : EVICTION_REASONS[action];
    const moved = moveWorkload(db, c.group, c.to, reason, c.reason, nowMs);
    out.phaseChanges.push({ workload: c.group, ...moved, reason });
  }
  for (const b of unit.binds) applyBind(db, b, nowMs, out);
  // A pending workload that got pods is now starting them.
  if (unit.binds.length > 0 && getWorkload(db, unit.group)?.phase === 'Pending') {
    const moved = moveWorkload(db, unit.group, 'Initializing', 'Scheduled', 'pods bound to nodes', nowMs);
    out.phaseChanges.push({ workload: unit.group, ...moved, reason: 'Scheduled' });
  }
  if (unit.evictions.length > 0 || unit.binds.length > 0) trackBelowMin(db, unit.group, nowMs);
}

/** Binds one pod: its row, its ports, a new assignment at the next epoch. */
function applyBind(db: Db, b: Bind, nowMs: number, out: AppliedPlan): void {
  const w = scheduledWorkload(db, b.group, `binds ${b.pod}`);
  const node = getNode(db, b.node);
  // A plan made from an older snapshot (applyPlanInSlices) may name a node lost or shrunk since.
  if (node === undefined || node.lost)
    fail('TESSERA_E_CONFLICT', `plan binds ${b.pod} of ${w.name} to ${b.node}, which is gone`);
  const uuids = new Set(node.gpus.map((g) => g.uuid));
  if (b.grants.some((g) => !uuids.has(g.uuid)))
    fail('TESSERA_E_CONFLICT', `plan binds ${b.pod} of ${w.name} to GPUs ${b.node} no longer has`);
  const gpuMilli = b.grants.reduce((s, g) => s + g.gpuMilli, 0);
  const existing = getPod(db, b.group, b.pod);
  if (existing !== undefined && SCHEDULED_POD_PHASES.includes(existing.phase))
    fail('TESSERA_E_CONFLICT', `plan binds ${b.pod} of ${w.name}, which is already ${existing.phase}`);
  // Before the pod row is written or moved, so its own old ports never count as held.
  const ports = assignPorts(
    db,
    b.node,
    { workload: b.group, pod: b.pod },
    w.spec.ports.map((p) => p.name),
  );
  if (existing === undefined) {
    db.prepare(
      `INSERT INTO pods (workload, name, node, grants, gpu_milli, cpu_millis, memory_mib, phase, bound_ms, ports)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'Bound', ?, ?)`,
    ).run(
      b.group,
      b.pod,
      b.node,
      JSON.stringify(b.grants),
      gpuMilli,
      w.spec.resources.cpuMillis,
      w.spec.resources.memoryMiB,
      nowMs,
      JSON.stringify(ports),
    );
  } else {
    // A requeued pod (Stopped or Pending after its node was lost) is placed again under its name.
    if (existing.phase === 'Stopped') movePod(db, b.group, b.pod, 'Pending', 'Requeued');
    movePod(db, b.group, b.pod, 'Bound', `bound by ${b.action}`);
    db.prepare(
      `UPDATE pods SET node = ?, grants = ?, gpu_milli = ?, cpu_millis = ?, memory_mib = ?, bound_ms = ?,
         exit_code = NULL, ports = ? WHERE workload = ? AND name = ?`,
    ).run(
      b.node,
      JSON.stringify(b.grants),
      gpuMilli,
      w.spec.resources.cpuMillis,
      w.spec.resources.memoryMiB,
      nowMs,
      JSON.stringify(ports),
      b.group,
      b.pod,
    );
  }
  // Fencing: a reassignment of the same pod always carries a higher epoch than any before it.
  const epoch = (existing?.epoch ?? 0) + 1;
  db.prepare(
    "INSERT INTO assignments (workload, pod, node, epoch, state, created_ms) VALUES (?, ?, ?, ?, 'active', ?)",
  ).run(b.group, b.pod, b.node, epoch, nowMs);
  db.prepare(
    `UPDATE workloads SET next_pod_ordinal = CASE WHEN next_pod_ordinal > @next THEN next_pod_ordinal ELSE @next END
     WHERE id = @id`,
  ).run({ next: ordinalOf(w.name, b.pod) + 1, id: b.group });
  out.starts.push({ workload: b.group, pod: b.pod, node: b.node, epoch, grants: b.grants });
}

/** Keeps `below_min_since_ms`: since when a gang has held some but fewer than minReplicas pods. */
function trackBelowMin(db: Db, id: string, nowMs: number): void {
  const w = getWorkload(db, id);
  if (w === undefined) return;
  const marks = SCHEDULED_POD_PHASES.map(() => '?').join(', ');
  const row = db
    .prepare(`SELECT COUNT(*) AS n FROM pods WHERE workload = ? AND phase IN (${marks})`)
    .get(id, ...SCHEDULED_POD_PHASES) as { n: number };
  const below = row.n > 0 && row.n < w.spec.minReplicas;
  db.prepare(
    'UPDATE workloads SET below_min_since_ms = CASE WHEN ? THEN COALESCE(below_min_since_ms, ?) ELSE NULL END WHERE id = ?',
  ).run(below ? 1 : 0, nowMs, id);
}
