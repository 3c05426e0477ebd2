/**
 * Why each workload still waits, as the newest scheduling cycle said (`tessera explain`).
 * In memory only: the next cycle recomputes every reason from the store, so a restarted allocator
 * answers again after its first cycle. Each cycle replaces the whole set, so a workload placed since
 * has no stale reason left behind.
 */
import type { PendingReason } from '../scheduler/plan.ts';

/** What the newest cycle said about one workload. */
export interface Explanation {
  /** The scheduler's reasons, in the order it gave them; empty when the cycle named none. */
  reasons: string[];
  /** When that cycle ran (ms since the epoch); null before the first cycle. */
  cycleAtMs: number | null;
}

/** The store main.ts feeds from each cycle's plan and the explain route reads. */
export interface ExplainStore {
  /** Replaces every reason with this cycle's (`plan.pending`, group = workload id). */
  record(pending: readonly PendingReason[], atMs: number): void;
  /** The newest cycle's reasons for workload `id`. */
  get(id: string): Explanation;
}

/** An empty store. */
export function createExplainStore(): ExplainStore {
  let byGroup = new Map<string, string[]>();
  let cycleAtMs: number | null = null;
  return {
    record(pending, atMs) {
      const next = new Map<string, string[]>();
      for (const p of pending) {
        const list = next.get(p.group) ?? [];
        if (!list.includes(p.reason)) list.push(p.reason);
        next.set(p.group, list);
      }
      byGroup = next;
      cycleAtMs = atMs;
    },
    get: (id) => ({ reasons: [...(byGroup.get(id) ?? [])], cycleAtMs }),
  };
}
