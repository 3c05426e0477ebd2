/**
 * Pod phase changes the lifecycle makes, each through the pod phase table in as many legal steps
 * as it takes (an agent may report a pod Running before the allocator saw it Starting); the steps
 * come from common/phases.ts `podPath`, so the table is stated once. Callers hold a transaction.
 */
import { type PodPhase, podPath } from '../../common/phases.ts';
import type { PlannedStop } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { ACTIVE_POD_PHASES, movePod, type PodRecord, setPodExitCode } from '../store/pods.ts';

/** Where a report or a stop moves a pod; Pending and Bound are the scheduler's to set. */
const REPORTED: readonly PodPhase[] = [
  'Starting',
  'Running',
  'Succeeded',
  'Failed',
  'Stopping',
  'Stopped',
  'Unknown',
];
/**
 * The steps a report may skip: a start the allocator did not see (Running before Starting), and the
 * release from the node (Pending) before a stop the agent reports done.
 */
const UNSEEN: readonly PodPhase[] = ['Starting', 'Pending'];

/** The legal path from a pod phase to a target, without the start; null when there is none. */
function pathTo(from: PodPhase, to: PodPhase): PodPhase[] | null {
  if (from === to) return [];
  // Only a pod on a node (holding its resources) has an agent reporting on it or a stop to reach it.
  if (!ACTIVE_POD_PHASES.includes(from) || !REPORTED.includes(to)) return null;
  return podPath(from, to, UNSEEN);
}

/** Moves `pod` to `to` through the table; false (and no write) when no legal path exists. */
export function advancePod(
  db: Db,
  pod: PodRecord,
  to: PodPhase,
  reason: string,
  exitCode?: number | null,
): boolean {
  const path = pathTo(pod.phase, to);
  if (path === null) return false;
  for (const step of path) movePod(db, pod.workload, pod.name, step, reason);
  if (exitCode !== undefined && exitCode !== null) setPodExitCode(db, pod.workload, pod.name, exitCode);
  return path.length > 0 || exitCode !== undefined;
}

/** Marks a live pod Stopping and returns the StopPod the link must send. */
export function beginStop(db: Db, pod: PodRecord, reason: string): PlannedStop | null {
  if (pod.node === null || !advancePod(db, pod, 'Stopping', reason)) return null;
  return { workload: pod.workload, pod: pod.name, node: pod.node, epoch: pod.epoch, reason };
}
