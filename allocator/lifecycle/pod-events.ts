/**
 * What a node tells of a pod's start beyond its state: the container runtime's "Pulling image",
 * "Pulled in 3.2 s", "Created container" become events of the pod's workload, so `tessera
 * describe` and the console show what Initializing is waiting on. Other event kinds are the
 * node's own business (GPU OOM kills end the pod, and that arrives as its state).
 */
import type { Event } from '../../common/wire.ts';
import { parseWirePodId } from '../link/pod-id.ts';
import type { Db } from '../store/db.ts';
import { insertEvent } from '../store/events.ts';
import { getPod } from '../store/pods.ts';
import { getWorkload } from '../store/workloads.ts';

/** The event reason each runtime event kind is stored under. */
export const RUNTIME_EVENT_REASONS: Readonly<Record<string, string>> = {
  'image-pulling': 'Pulling',
  'image-pulled': 'Pulled',
  'image-pull-retry': 'PullRetry',
  'container-created': 'Created',
};

/**
 * Stores `event` from `node` as an event of its pod's workload, at the workload's current phase;
 * false (nothing stored) for other kinds, unknown pods, or a pod that is not on that node.
 */
export function recordPodEvent(db: Db, node: string, event: Event, nowMs: number): boolean {
  const reason = RUNTIME_EVENT_REASONS[event.kind];
  if (reason === undefined || event.podId === null) return false;
  const id = parseWirePodId(event.podId);
  if (id === null) return false;
  const pod = getPod(db, id.workload, id.pod);
  // A node speaks only for the pods it was given: anything else is stale or forged.
  if (pod === undefined || pod.node !== node) return false;
  const w = getWorkload(db, id.workload);
  if (w === undefined) return false;
  insertEvent(db, {
    timeMs: nowMs,
    workload: w.id,
    from: w.phase,
    to: w.phase,
    reason,
    message: `pod ${id.pod} on ${node}: ${event.reason}`,
  });
  return true;
}
