/**
 * The workload and pod phase machines. The tables below are the only gate on a phase change:
 * the allocator derives phases from pod reports and asks `transition` before storing an event.
 */
import { err, ok, type Result, tesseraError } from './errors.ts';

/** A workload's phase (docs/architecture.md §2, "Phases"). */
export type WorkloadPhase =
  | 'Creating'
  | 'Pending'
  | 'Initializing'
  | 'Running'
  | 'Degraded'
  | 'Stopped'
  | 'Deleting'
  | 'Failed'
  | 'Completed';

/** A pod's phase, as the allocator tracks it from binds and agent reports. */
export type PodPhase =
  | 'Pending'
  | 'Bound'
  | 'Starting'
  | 'Running'
  | 'Unknown'
  | 'Succeeded'
  | 'Failed'
  | 'Stopping'
  | 'Stopped';

/** A legal phase change, ready to be stamped with time and workload and stored as an event. */
export interface PhaseChange<P extends string> {
  from: P;
  to: P;
  reason: string;
  message?: string;
}

/** Every workload phase, in lifecycle order. */
export const WORKLOAD_PHASES: readonly WorkloadPhase[] = [
  'Creating',
  'Pending',
  'Initializing',
  'Running',
  'Degraded',
  'Stopped',
  'Deleting',
  'Failed',
  'Completed',
];

/**
 * Legal workload transitions. Reading guide:
 * - any phase that is not finished can be stopped by the user (-> Stopped) or deleted (-> Deleting);
 * - Initializing / Running / Degraded -> Pending: preempted, or its node was lost, and it queues again;
 * - Stopped -> Pending is `tessera run`: it queues again rather than going straight to
 *   Initializing, because its resources were released;
 * - Creating -> Failed: the pod group could not be created (e.g. a policy rejected it late);
 * - Initializing -> Degraded: some pods came up and others failed to, with the rest still running;
 * - Completed / Failed are terminal: only deletion leaves them; Deleting ends with the record gone.
 */
export const WORKLOAD_TRANSITIONS: Readonly<Record<WorkloadPhase, readonly WorkloadPhase[]>> = {
  Creating: ['Pending', 'Failed', 'Stopped', 'Deleting'],
  Pending: ['Initializing', 'Stopped', 'Deleting'],
  Initializing: ['Running', 'Degraded', 'Failed', 'Pending', 'Stopped', 'Deleting'],
  Running: ['Degraded', 'Completed', 'Failed', 'Pending', 'Stopped', 'Deleting'],
  Degraded: ['Running', 'Completed', 'Failed', 'Pending', 'Stopped', 'Deleting'],
  Stopped: ['Pending', 'Deleting'],
  Deleting: [],
  Failed: ['Deleting'],
  Completed: ['Deleting'],
};

/** Every pod phase, in lifecycle order. */
export const POD_PHASES: readonly PodPhase[] = [
  'Pending',
  'Bound',
  'Starting',
  'Running',
  'Unknown',
  'Succeeded',
  'Failed',
  'Stopping',
  'Stopped',
];

/**
 * Phases of a pod placed on a node and not yet ended: what a scheduler snapshot shows and what
 * derives a workload's phase. Unknown pods may still run on their unreachable node, so they keep
 * holding what they hold; Stopping pods are already given up by the plan that evicted them.
 */
export const SCHEDULED_POD_PHASES: readonly PodPhase[] = ['Bound', 'Starting', 'Running', 'Unknown'];

/**
 * Legal pod transitions. Reading guide:
 * - Pending -> Bound when the scheduler places it; Bound -> Starting when the agent accepts it;
 * - Bound / Starting / Running -> Pending: the node was lost (lease expired) or the bind was rolled
 *   back, so the pod queues again rather than being recreated;
 * - a stop (user, preemption, reclaim) goes through Stopping unless nothing was started yet
 *   (Pending / Bound -> Stopped); Stopped -> Pending requeues it when the workload runs again;
 * - Starting -> Succeeded: a short process may exit before the agent reports it running;
 * - Running -> Starting: its agent reports it no longer ready (its readiness probe failed), so it
 *   stops counting as ready (a workload short of ready pods is Degraded) and returns on its next pass;
 * - Stopping -> Failed: the process had to be killed or its exit could not be confirmed;
 * - Bound / Starting / Running -> Unknown: its node missed its lease while the pod's disconnect policy
 *   keeps it running; the node's next report says what it is (or an admin's `node delete --force`
 *   requeues it through Pending); nothing replaces it meanwhile, so it never runs twice;
 * - Succeeded and Failed are terminal.
 */
export const POD_TRANSITIONS: Readonly<Record<PodPhase, readonly PodPhase[]>> = {
  Pending: ['Bound', 'Stopped'],
  Bound: ['Starting', 'Pending', 'Failed', 'Stopping', 'Stopped', 'Unknown'],
  Starting: ['Running', 'Succeeded', 'Failed', 'Pending', 'Stopping', 'Unknown'],
  Running: ['Starting', 'Succeeded', 'Failed', 'Pending', 'Stopping', 'Unknown'],
  Unknown: ['Starting', 'Running', 'Succeeded', 'Failed', 'Pending', 'Stopping'],
  Stopping: ['Stopped', 'Failed'],
  Stopped: ['Pending'],
  Succeeded: [],
  Failed: [],
};

/** True when the workload table allows `from -> to`; the only gate on a workload phase change. */
export function canTransition(from: WorkloadPhase, to: WorkloadPhase): boolean {
  return WORKLOAD_TRANSITIONS[from].includes(to);
}

/** True when the pod table allows `from -> to`. */
export function canPodTransition(from: PodPhase, to: PodPhase): boolean {
  return POD_TRANSITIONS[from].includes(to);
}

/** True for Completed and Failed, the terminal states: only deletion leaves them. */
export function isTerminalPhase(phase: WorkloadPhase): boolean {
  return phase === 'Completed' || phase === 'Failed';
}

/** The phases `from` may move to, in table order. */
export function legalTargets(from: WorkloadPhase): readonly WorkloadPhase[] {
  return WORKLOAD_TRANSITIONS[from];
}

/** True for a pod phase that nothing leaves. */
export function isTerminalPodPhase(phase: PodPhase): boolean {
  return POD_TRANSITIONS[phase].length === 0;
}

/**
 * The shortest legal way from pod phase `from` to `to` through the pod table, without `from`, whose
 * steps before `to` are all phases in `via`; [] when `from` is `to`, null when there is none. Of
 * equally short ways, the one through the earlier target in the table's order wins.
 */
export function podPath(from: PodPhase, to: PodPhase, via: readonly PodPhase[]): PodPhase[] | null {
  if (from === to) return [];
  const previous = new Map<PodPhase, PodPhase | null>([[from, null]]);
  for (let frontier: PodPhase[] = [from]; frontier.length > 0; ) {
    const next: PodPhase[] = [];
    for (const at of frontier)
      for (const step of POD_TRANSITIONS[at]) {
        if (previous.has(step)) continue;
        previous.set(step, at);
        if (step === to) {
          const path: PodPhase[] = [];
          for (let p: PodPhase | null = step; p !== null && p !== from; p = previous.get(p) ?? null)
            path.unshift(p);
          return path;
        }
        if (via.includes(step)) next.push(step);
      }
    frontier = next;
  }
  return null;
}

/** Checks `from -> to` against the workload table; refuses with the legal targets named. */
export function transition(
  from: WorkloadPhase,
  to: WorkloadPhase,
  reason: string,
  message?: string,
): Result<PhaseChange<WorkloadPhase>> {
  return checked('workload', WORKLOAD_TRANSITIONS, from, to, reason, message);
}

/** Checks `from -> to` against the pod table; refuses with the legal targets named. */
export function podTransition(
  from: PodPhase,
  to: PodPhase,
  reason: string,
  message?: string,
): Result<PhaseChange<PodPhase>> {
  return checked('pod', POD_TRANSITIONS, from, to, reason, message);
}

function checked<P extends string>(
  kind: 'workload' | 'pod',
  table: Readonly<Record<P, readonly P[]>>,
  from: P,
  to: P,
  reason: string,
  message: string | undefined,
): Result<PhaseChange<P>> {
  const legal = table[from];
  if (!legal.includes(to)) {
    const targets = legal.length === 0 ? 'none, it is terminal' : legal.join(', ');
    return err(
      tesseraError(
        'TESSERA_E_ILLEGAL_TRANSITION',
        `illegal ${kind} phase transition ${from} -> ${to} (reason: ${reason}); legal targets from ${from}: ${targets}`,
        { context: { kind, from, to, reason, legalTargets: legal.join(',') } },
      ),
    );
  }
  const change: PhaseChange<P> = { from, to, reason };
  if (message !== undefined) change.message = message;
  return ok(change);
}
