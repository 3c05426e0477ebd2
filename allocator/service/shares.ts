/**
 * Each queue's standing per node pool as of the newest scheduling cycle (issue 6): deserved quota,
 * fair share and allocated GPUs, for `GET /shares` (the console's projects page) and the
 * `tessera_project_gpus` metric. Fair shares are worked out from that cycle's snapshot with the
 * scheduler's own session, so they are exactly what the scheduler used, and only when first asked
 * after a cycle: a cluster nobody looks at pays nothing for them.
 */
import { openSession } from '../scheduler/session.ts';
import type { Snapshot } from '../scheduler/snapshot.ts';

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

/** The newest cycle's shares; main.ts records every cycle's snapshot. */
export interface ShareStore {
  /** Keeps `snapshot` as the newest; its rows are worked out when next asked. */
  record(snapshot: Snapshot): void;
  /** The newest cycle's rows, departments first then projects, by name and pool; empty before a cycle. */
  rows(): readonly ShareRow[];
}

const gpus = (milli: number): number => (milli < 0 ? -1 : milli / 1000);

/** The rows of one snapshot. */
export function shareRows(snapshot: Snapshot): ShareRow[] {
  const session = openSession(snapshot);
  const rows: ShareRow[] = [];
  for (const [queue, pools] of session.shares) {
    const parent = session.queues.get(queue)?.parent ?? null;
    for (const [nodePool, s] of pools) {
      rows.push({
        queue,
        kind: parent === null ? 'department' : 'project',
        department: parent,
        nodePool,
        deserved: gpus(s.deserved.gpuMilli),
        fairShare: gpus(s.fairShare.gpuMilli),
        allocated: gpus(s.allocated.gpuMilli),
        limit: gpus(s.limit.gpuMilli),
        overQuotaWeight: s.overQuotaWeight,
      });
    }
  }
  const order = (r: ShareRow): string =>
    `${r.kind === 'department' ? 0 : 1}\u0000${r.queue}\u0000${r.nodePool}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** An empty store. */
export function createShareStore(): ShareStore {
  let snapshot: Snapshot | null = null;
  let cached: ShareRow[] | null = null;
  return {
    record(next) {
      snapshot = next;
      cached = null;
    },
    rows() {
      if (snapshot === null) return [];
      cached ??= shareRows(snapshot);
      return cached;
    },
  };
}
