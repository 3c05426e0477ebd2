/**
 * Commits a scheduler plan in ONE transaction (docs/architecture.md §6): pods, assignments with their epochs,
 * quota accounting and phase changes are durable before anything is dispatched, and a failure
 * anywhere writes nothing. Returns what the link must send.
 *
 * Contract: the plan was computed from `buildSnapshot` of this database with no write in between
 * (the allocator runs snapshot -> plan -> apply on one thread); anything else is refused by throwing.
 */
import type { WorkloadPhase } from '../../common/phases.ts';
import type { GpuGrant } from '../../common/resources.ts';
import type { ActionName, Plan } from '../scheduler/plan.ts';
import { type Db, inTransaction } from './db.ts';
import { fail } from './errors.ts';
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
    const touched = new Set<string>();

    // Evictions first: the plan's binds may reuse what they free.
    for (const e of plan.evictions) {
      scheduledWorkload(db, e.group, `evicts ${e.pod}`);
      const pod = getPod(db, e.group, e.pod);
      if (pod === undefined || pod.node !== e.node || !SCHEDULED_POD_PHASES.includes(pod.phase))
        fail(
          'TESSERA_E_CONFLICT',
          `plan evicts ${e.pod} of ${e.group} from ${e.node}, where it does not run`,
        );
      // The assignment row stays (state stopping) until the agent confirms the stop.
      movePod(db, e.group, e.pod, 'Stopping', e.reason);
      out.stops.push({ workload: e.group, pod: e.pod, node: e.node, epoch: pod.epoch, reason: e.reason });
      touched.add(e.group);
    }

    for (const c of plan.phaseChanges) {
      const action = plan.evictions.find((e) => e.group === c.group)?.action;
      const reason = action === undefined ? 'Preempted' : EVICTION_REASONS[action];
      const moved = moveWorkload(db, c.group, c.to, reason, c.reason, nowMs);
      out.phaseChanges.push({ workload: c.group, ...moved, reason });
    }

    for (const b of plan.binds) {
      const w = scheduledWorkload(db, b.group, `binds ${b.pod}`);
      const gpuMilli = b.grants.reduce((s, g) => s + g.gpuMilli, 0);
      const existing = getPod(db, b.group, b.pod);
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
      touched.add(b.group);
    }

    // A pending workload that got pods is now starting them.
    for (const id of new Set(plan.binds.map((b) => b.group))) {
      if (getWorkload(db, id)?.phase !== 'Pending') continue;
      const moved = moveWorkload(db, id, 'Initializing', 'Scheduled', 'pods bound to nodes', nowMs);
      out.phaseChanges.push({ workload: id, ...moved, reason: 'Scheduled' });
    }

    for (const id of touched) trackBelowMin(db, id, nowMs);
    return out;
  });
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
