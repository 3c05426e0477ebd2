/**
 * One scheduling cycle: snapshot in, plan out. Pure and deterministic: no I/O, no clock but
 * `snapshot.nowMs`, and the same snapshot always gives the same plan.
 */
import { ACTIONS, type Action } from './actions/index.ts';
import type { PhaseChange, Plan } from './plan.ts';
import { openSession, pendingReasons } from './session.ts';
import type { Snapshot } from './snapshot.ts';
import { Statement } from './statement.ts';

/** Run every action in order over a snapshot and return what to change. */
export function runCycle(snapshot: Snapshot, actions: readonly Action[] = ACTIONS): Plan {
  const session = openSession(snapshot);
  const stmt = new Statement(session);
  for (const action of actions) action.run(session, stmt);
  const { binds, evictions } = stmt.commit();

  // A workload that held a whole gang and lost it goes back to Pending, with the eviction's reason.
  const phaseChanges: PhaseChange[] = [];
  const seen = new Set<string>();
  const byId = new Map(session.groups.map((g) => [g.snap.id, g]));
  for (const e of evictions) {
    const g = byId.get(e.group);
    if (!g || seen.has(e.group)) continue;
    seen.add(e.group);
    if (g.pods.length < g.snap.minMember)
      phaseChanges.push({ group: e.group, to: 'Pending', reason: e.reason });
  }
  return { binds, evictions, phaseChanges, pending: pendingReasons(session) };
}
