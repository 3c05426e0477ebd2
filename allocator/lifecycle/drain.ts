/**
 * An admin drains a node (`tessera node drain`): it is cordoned so nothing new lands there, and the
 * pods on it are evicted by the rules the scheduler evicts by. Preemptible work goes, once the pods
 * have run their minimum runtime; non-preemptible work stays (it was promised it would not be
 * interrupted) until it ends on its own or the admin forces the drain. An evicted workload keeps its
 * other pods if it still has its minimum there, as an elastic one shrunk by the scheduler does;
 * otherwise it goes back to Pending whole and is placed elsewhere, as a preempted one is.
 *
 * Level-triggered like the rest of the lifecycle: calling it again evicts what has become due (a
 * minimum runtime elapsed, a pod bound by a cycle planned before the cordon) and reports the rest,
 * so the CLI calls it until the node is empty or its patience runs out.
 */
import type { Result } from '../../common/errors.ts';
import type { Db } from '../store/db.ts';
import { inTransaction } from '../store/db.ts';
import { fail, guard } from '../store/errors.ts';
import { getNode, setCordoned } from '../store/nodes.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { getWorkload, type WorkloadRecord } from '../store/workloads.ts';
import { REPORT_DRIVEN_PHASES } from './derive.ts';
import { beginStop } from './pods.ts';
import { keepOrRequeue } from './settle.ts';

/** Why a pod still on a draining node was not evicted. */
export type DrainHold = 'non-preemptible' | 'min-runtime';

/** A pod on the node, with its workload, as the drain report names it. */
export interface DrainPod {
  workloadId: string;
  workload: string;
  project: string;
  pod: string;
  phase: string;
  preemptible: boolean;
}

/** What one drain call did and what is left on the node. */
export interface DrainReport {
  node: string;
  /** Pods this call evicted, and whether their workload went back to Pending whole. */
  evicted: (DrainPod & { requeued: boolean })[];
  /** Pods being stopped (evicted now or earlier, or their workload stopped or deleted): leaving. */
  stopping: DrainPod[];
  /** Pods left running, and why; `until` is when a minimum runtime ends (ms since the epoch). */
  held: (DrainPod & { hold: DrainHold; until?: number })[];
  /** True when no pod is left on the node: it may be serviced or deleted. */
  drained: boolean;
}

/** The options of a drain call. */
export interface DrainOptions {
  /** Evict non-preemptible work and work inside its minimum runtime as well. */
  force: boolean;
  nowMs: number;
}

function describePod(w: WorkloadRecord | undefined, p: PodRecord): DrainPod {
  return {
    workloadId: p.workload,
    workload: w?.name ?? p.workload,
    project: w?.project ?? '',
    pod: p.name,
    phase: p.phase,
    preemptible: w?.spec.preemptible ?? true,
  };
}

/** Why `w`'s pods on the node must stay, or null when they may be evicted now. */
function holdOf(
  w: WorkloadRecord,
  pods: readonly PodRecord[],
  opts: DrainOptions,
): { hold: DrainHold; until?: number } | null {
  if (opts.force) return null;
  if (!w.spec.preemptible) return { hold: 'non-preemptible' };
  if (w.spec.minRuntimeMs === 0) return null;
  // The scheduler never preempts a pod younger than its minimum runtime (scheduler/actions/victims.ts).
  const until = Math.max(...pods.map((p) => (p.boundMs ?? 0) + w.spec.minRuntimeMs));
  return opts.nowMs < until ? { hold: 'min-runtime', until } : null;
}

/**
 * Evicts `here` (the workload's scheduled pods on the node): the rest of the workload stays when it
 * still has its minimum, else every pod stops and it queues again. Returns whether it was requeued.
 */
function evict(db: Db, w: WorkloadRecord, here: readonly PodRecord[], node: string, nowMs: number): boolean {
  for (const p of here) beginStop(db, p, `Drained: node ${node} drained by an admin`);
  return keepOrRequeue(db, w, 'Drained', `its pods on node ${node} were evicted by a drain`, nowMs).requeued;
}

/** Cordons `node` and evicts what the rules allow (all of it with `force`); one transaction. */
export function drainNode(db: Db, node: string, opts: DrainOptions): Result<DrainReport> {
  return guard(() =>
    inTransaction(db, (): DrainReport => {
      const rec = getNode(db, node);
      if (rec === undefined) fail('TESSERA_E_NOT_FOUND', `no node named ${node}`, { node });
      if (rec.lost)
        fail(
          'TESSERA_E_CONFLICT',
          `node ${node} is lost: no stop can reach its pods. Wait for it to report again, or declare it dead with tessera node delete ${node} --force (its pods are then placed elsewhere)`,
          { node },
        );
      if (!rec.cordoned) setCordoned(db, node, true);
      const report: DrainReport = { node, evicted: [], stopping: [], held: [], drained: false };
      const byWorkload = new Map<string, PodRecord[]>();
      for (const p of listPods(db, { node, phases: SCHEDULED_POD_PHASES }))
        byWorkload.set(p.workload, [...(byWorkload.get(p.workload) ?? []), p]);
      for (const [id, here] of byWorkload) {
        const w = getWorkload(db, id);
        // A stopped or deleted workload's pods are already on their way out (teardown.ts stops them).
        if (w === undefined || !REPORT_DRIVEN_PHASES.includes(w.phase)) continue;
        const hold = holdOf(w, here, opts);
        if (hold !== null) {
          report.held.push(...here.map((p) => ({ ...describePod(w, p), ...hold })));
          continue;
        }
        const requeued = evict(db, w, here, node, opts.nowMs);
        report.evicted.push(...here.map((p) => ({ ...describePod(w, p), requeued })));
      }
      const heldPods = new Set(report.held.map((h) => `${h.workloadId}/${h.pod}`));
      for (const p of listPods(db, { node, phases: [...SCHEDULED_POD_PHASES, 'Stopping'] }))
        if (!heldPods.has(`${p.workload}/${p.name}`))
          report.stopping.push(describePod(getWorkload(db, p.workload), p));
      report.drained = report.stopping.length === 0 && report.held.length === 0;
      return report;
    }),
  );
}
