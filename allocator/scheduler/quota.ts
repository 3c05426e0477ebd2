/**
 * Quota gates every bind passes: hard limits of the project and its department, and the rule that
 * non-preemptible work only ever uses deserved quota (docs/architecture.md §2).
 */
import { formatCpuMillis, formatGpuMilli, formatMemoryMiB, type Resources } from '../../common/resources.ts';
import { type GroupState, liveOf, type Session } from './session.ts';
import { UNLIMITED } from './snapshot.ts';

const RESOURCES = ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const;
type ResourceKey = (typeof RESOURCES)[number];

function describe(key: ResourceKey, amount: number): string {
  if (key === 'gpuMilli') return `${formatGpuMilli(amount)} GPUs`;
  if (key === 'cpuMillis') return `${formatCpuMillis(amount)} CPUs`;
  return `${formatMemoryMiB(amount)} memory`;
}

/** Null when `group` may take `r` more in `pool`, else a reason a user can act on. */
export function quotaRefusal(session: Session, group: GroupState, pool: string, r: Resources): string | null {
  const project = group.snap.queue;
  const chain = [project];
  const parent = session.queues.get(project)?.parent;
  if (parent) chain.push(parent);
  for (const queue of chain) {
    const kind = queue === project ? 'project' : 'department';
    const quota = session.queues.get(queue)?.quotas[pool];
    const used = liveOf(session.allocated, queue, pool);
    if (quota) {
      for (const key of RESOURCES) {
        const limit = quota.limit[key];
        if (limit === UNLIMITED || limit < 0 || r[key] === 0) continue;
        if (used[key] + r[key] > limit) {
          return `${kind} ${queue} is at its limit of ${describe(key, limit)} in pool ${pool} (${describe(key, used[key])} in use)`;
        }
      }
    }
    if (!group.snap.preemptible) {
      const usedNp = liveOf(session.allocatedNonPreemptible, queue, pool);
      const deserved = session.shares.get(queue)?.get(pool)?.deserved;
      for (const key of RESOURCES) {
        if (r[key] === 0) continue;
        // A queue with no quota entry for the pool deserves nothing there, unless it is a
        // department with no quota (no cap): then only its projects' own deserved binds.
        if (kind === 'department' && !quota) continue;
        const have = deserved?.[key] ?? 0;
        if (key !== 'gpuMilli' && have === 0) continue;
        if (usedNp[key] + r[key] > have) {
          return `${kind} ${queue}: non-preemptible workloads may use only the deserved quota (${describe(key, have)} in pool ${pool}, ${describe(key, usedNp[key])} already used by non-preemptible work); submit it as preemptible or raise the deserved quota`;
        }
      }
    }
  }
  return null;
}
