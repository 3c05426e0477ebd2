/**
 * Each queue's standing per node pool as of the newest scheduling cycle: deserved quota,
 * fair share and allocated GPUs, for `GET /shares` (the console's projects page), `tessera project
 * list` and the `tessera_project_*_gpus` metrics. They are the cycle's own figures (`plan.shares`):
 * nothing is computed again, and the rows are written out only when first asked after a cycle.
 */
import type { QueueShare } from '../scheduler/fairshare.ts';
import type { Plan } from '../scheduler/plan.ts';
import type { QueueSnap } from '../scheduler/snapshot.ts';

/** One queue in one node pool, GPUs as numbers of GPUs. */
export interface ShareRow {
  queue: string;
  kind: 'department' | 'project';
  /** A project's department; null for a department. */
  department: string | null;
  nodePool: string;
  deserved: number;
  fairShare: number;
  allocated: number;
  /** -1: no limit. */
  limit: number;
  overQuotaWeight: number;
}

/** The newest cycle's shares; main.ts records every cycle. */
export interface ShareStore {
  /** Keeps this cycle's shares (`plan.shares`) as the newest; rows are written when next asked. */
  record(snapshot: { queues: readonly Pick<QueueSnap, 'name' | 'parent'>[] }, plan: Plan): void;
  /** The newest cycle's rows, departments first then projects, by name and pool; empty before a cycle. */
  rows(): readonly ShareRow[];
}

type Shares = NonNullable<Plan['shares']>;

const gpus = (milli: number): number => (milli < 0 ? -1 : milli / 1000);

/** The rows of one cycle's shares; `parents` names each queue's department (null: a department). */
export function shareRows(shares: Shares, parents: ReadonlyMap<string, string | null>): ShareRow[] {
  const rows: ShareRow[] = [];
  for (const [queue, pools] of shares) {
    const parent = parents.get(queue) ?? null;
    for (const [nodePool, s] of pools) rows.push(rowOf(queue, parent, nodePool, s));
  }
  const order = (r: ShareRow): string =>
    `${r.kind === 'department' ? 0 : 1}\u0000${r.queue}\u0000${r.nodePool}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

function rowOf(queue: string, parent: string | null, nodePool: string, s: QueueShare): ShareRow {
  return {
    queue,
    kind: parent === null ? 'department' : 'project',
    department: parent,
    nodePool,
    deserved: gpus(s.deserved.gpuMilli),
    fairShare: gpus(s.fairShare.gpuMilli),
    allocated: gpus(s.allocated.gpuMilli),
    limit: gpus(s.limit.gpuMilli),
    overQuotaWeight: s.overQuotaWeight,
  };
}

/** An empty store. */
export function createShareStore(): ShareStore {
  let newest: { shares: Shares; parents: Map<string, string | null> } | null = null;
  let cached: ShareRow[] | null = null;
  return {
    record(snapshot, plan) {
      // Only the queue tree is kept from the snapshot, not the snapshot (nodes and pods) itself.
      newest = {
        shares: plan.shares ?? new Map(),
        parents: new Map(snapshot.queues.map((q) => [q.name, q.parent])),
      };
      cached = null;
    },
    rows() {
      if (newest === null) return [];
      cached ??= shareRows(newest.shares, newest.parents);
      return cached;
    },
  };
}
