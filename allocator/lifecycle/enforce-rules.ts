/**
 * Carries out the scheduling rules each cycle: reads the running workloads, their events,
 * their pods' GPUs and their effective rules from the store, asks the pure `ruleStops`, and moves
 * each workload it names to Stopped with the rule's reason and message. The cycle's teardown then
 * stops its pods on their nodes, as for a user stop.
 */
import type { EffectiveRules } from '../../common/scheduling-rules.ts';
import type { Db } from '../store/db.ts';
import { listEvents } from '../store/events.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { effectiveRulesOf, projectChain } from '../store/policies.ts';
import { changePhase, listWorkloads } from '../store/workloads.ts';
import { type GpuIdleRun, type RuledWorkload, type RuleStop, ruleStops, runningSinceMs } from './rules.ts';

/** Stops the running workloads whose rules ran out at `nowMs`; returns the stops made. */
export function enforceSchedulingRules(
  db: Db,
  idle: ReadonlyMap<string, GpuIdleRun>,
  nowMs: number,
): RuleStop[] {
  const rulesCache = new Map<string, EffectiveRules>();
  const ruled: RuledWorkload[] = [];
  for (const w of listWorkloads(db, { phases: ['Running', 'Degraded'] })) {
    const key = `${w.project}\n${w.type}`;
    let rules = rulesCache.get(key);
    if (rules === undefined) {
      const chain = projectChain(db, w.project);
      rules = chain.ok ? effectiveRulesOf(db, chain.value, w.type) : {};
      rulesCache.set(key, rules);
    }
    if (rules.maxRuntimeSeconds === undefined && rules.idleGpuTimeoutSeconds === undefined) continue;
    const gpus = listPods(db, { workload: w.id, phases: SCHEDULED_POD_PHASES }).flatMap((p) =>
      p.node === null ? [] : p.grants.map((g) => ({ node: p.node ?? '', uuid: g.uuid })),
    );
    ruled.push({
      id: w.id,
      name: w.name,
      runningSinceMs: runningSinceMs(listEvents(db, { workload: w.id })),
      gpus,
      rules,
    });
  }
  const made: RuleStop[] = [];
  for (const stop of ruleStops(ruled, idle, nowMs)) {
    // A workload that moved on meanwhile (deleted, finished) simply is not stopped.
    if (changePhase(db, stop.workload, 'Stopped', stop.reason, nowMs, stop.message).ok) made.push(stop);
  }
  return made;
}
