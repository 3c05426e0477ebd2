/**
 * One scheduling cycle: snapshot in, plan out. Pure and deterministic: no I/O, no clock but
 * `snapshot.nowMs`, and the same snapshot always gives the same plan.
 */
import { ACTIONS, type Action } from './actions/index.ts';
import type { ActionName, Plan, PlannedPhaseChange } from './plan.ts';
import { openSession, pendingReasons } from './session.ts';
import type { Snapshot } from './snapshot.ts';
import { Statement } from './statement.ts';

/**
 * Wraps each action's run, e.g. to time it. The scheduler reads no clock itself; a caller that wants
 * per-action durations brings its own (the allocator's metrics do).
 */
export type ActionObserver = (action: ActionName, run: () => void) => void;

/** Run every action in order over a snapshot and return what to change. */
export function runCycle(
  snapshot: Snapshot,
  actions: readonly Action[] = ACTIONS,
  observe: ActionObserver = (_name, run) => run(),
): Plan {
  const session = openSession(snapshot);
  const stmt = new Statement(session);
  for (const action of actions) observe(action.name, () => action.run(session, stmt));
  const { binds, evictions } = stmt.commit();

  // A workload that held a whole gang and lost it goes back to Pending, with the eviction's reason.
  const phaseChanges: PlannedPhaseChange[] = [];
  const seen = new Set<string>();
  const byId = new Map(session.groups.map((g) => [g.snap.id, g]));
  for (const e of evictions) {
    const g = byId.get(e.group);
    if (!g || seen.has(e.group)) continue;
    seen.add(e.group);
    if (g.pods.length < g.snap.minMember)
      phaseChanges.push({ group: e.group, to: 'Pending', reason: e.reason });
  }
  return { binds, evictions, phaseChanges, pending: pendingReasons(session), shares: session.shares };
}
