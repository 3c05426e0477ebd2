/**
 * Pod phase changes the lifecycle makes, each through the pod phase table in as many legal steps
 * as it takes (an agent may report a pod Running before the allocator saw it Starting). Callers hold
 * a transaction.
 */
import type { PodPhase } from '../../common/phases.ts';
import type { StopPod } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { movePod, type PodRecord, setPodExitCode } from '../store/pods.ts';

/** The legal path from a pod phase to a target, without the start; null when there is none. */
function pathTo(from: PodPhase, to: PodPhase): PodPhase[] | null {
  if (from === to) return [];
  const paths: Partial<Record<PodPhase, Partial<Record<PodPhase, PodPhase[]>>>> = {
    Bound: {
      Starting: ['Starting'],
      Running: ['Starting', 'Running'],
      Succeeded: ['Starting', 'Succeeded'],
      Failed: ['Failed'],
      Stopping: ['Stopping'],
      Stopped: ['Pending', 'Stopped'],
      Unknown: ['Unknown'],
    },
    Starting: {
      Running: ['Running'],
      Succeeded: ['Succeeded'],
      Failed: ['Failed'],
      Stopping: ['Stopping'],
      Stopped: ['Pending', 'Stopped'],
      Unknown: ['Unknown'],
    },
    Running: {
      Succeeded: ['Succeeded'],
      Failed: ['Failed'],
      Stopping: ['Stopping'],
      Stopped: ['Pending', 'Stopped'],
      Unknown: ['Unknown'],
    },
    Unknown: {
      Starting: ['Starting'],
      Running: ['Running'],
      Succeeded: ['Succeeded'],
      Failed: ['Failed'],
      Stopping: ['Stopping'],
      Stopped: ['Pending', 'Stopped'],
    },
    Stopping: { Stopped: ['Stopped'], Failed: ['Failed'] },
  };
  return paths[from]?.[to] ?? null;
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
export function beginStop(db: Db, pod: PodRecord, reason: string): StopPod | null {
  if (pod.node === null || !advancePod(db, pod, 'Stopping', reason)) return null;
  return { workload: pod.workload, pod: pod.name, node: pod.node, epoch: pod.epoch, reason };
}
