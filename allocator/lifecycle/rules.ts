/**
 * Scheduling rules at run time, PURE: which running workloads must stop now because their
 * `maxRuntimeSeconds` ran out or their GPUs sat idle for `idleGpuTimeoutSeconds`. Time comes in as
 * `nowMs`; GPU idleness comes in as 30-second windows judged by allocator/service/gpu-usage.ts.
 * A rule fires exactly when the limit is reached (elapsed >= limit), never a window early.
 */
import type { WorkloadPhase } from '../../common/phases.ts';
import type { EffectiveRules } from '../../common/scheduling-rules.ts';

/** Length of one utilization window. */
export const GPU_WINDOW_MS = 30_000;

/** One GPU's idle run: every complete window from `idleSinceMs` up to `throughMs` read 0%. */
export interface GpuIdleRun {
  /** Start of the run of idle windows ending at `throughMs`; null when the last window was busy. */
  idleSinceMs: number | null;
  /** End of the last complete window seen. */
  throughMs: number;
}

/** The key of a GPU in the idle map: GPU uuids are unique per node, not across a simulated fleet. */
export function gpuKey(node: string, uuid: string): string {
  return `${node}/${uuid}`;
}

/** A running workload as the rules see it. */
export interface RuledWorkload {
  id: string;
  name: string;
  /** When it last entered Running (see `runningSinceMs`); null when not running. */
  runningSinceMs: number | null;
  /** The GPUs its live pods hold, as (node, uuid). */
  gpus: readonly { node: string; uuid: string }[];
  rules: EffectiveRules;
}

/** A stop the rules ask for. */
export interface RuleStop {
  workload: string;
  reason: 'MaxRuntimeExceeded' | 'IdleGpuTimeout';
  message: string;
}

/** The phase events the running-since time is read from. */
export interface PhaseEvent {
  timeMs: number;
  from: WorkloadPhase | null;
  to: WorkloadPhase;
}

const LIVE: readonly WorkloadPhase[] = ['Running', 'Degraded'];

/**
 * When the workload last entered Running from a phase that was not running, from its events in
 * order; null when it is not running now. Running <-> Degraded keeps the clock: the work never stopped.
 */
export function runningSinceMs(events: readonly PhaseEvent[]): number | null {
  let since: number | null = null;
  for (const e of events) {
    if (!LIVE.includes(e.to)) since = null;
    else since ??= e.timeMs;
  }
  return since;
}

/** When all `gpus` have been idle since, counting only time after `floorMs`; null when any is busy. */
function idleSince(
  gpus: RuledWorkload['gpus'],
  idle: ReadonlyMap<string, GpuIdleRun>,
  floorMs: number,
): { sinceMs: number; throughMs: number } | null {
  if (gpus.length === 0) return null;
  let sinceMs = floorMs;
  let throughMs = Number.POSITIVE_INFINITY;
  for (const g of gpus) {
    const run = idle.get(gpuKey(g.node, g.uuid));
    if (run === undefined || run.idleSinceMs === null) return null;
    sinceMs = Math.max(sinceMs, run.idleSinceMs);
    throughMs = Math.min(throughMs, run.throughMs);
  }
  return throughMs > sinceMs ? { sinceMs, throughMs } : null;
}

/** The stops the rules ask for at `nowMs`, at most one per workload (max runtime first). */
export function ruleStops(
  workloads: readonly RuledWorkload[],
  idle: ReadonlyMap<string, GpuIdleRun>,
  nowMs: number,
): RuleStop[] {
  const stops: RuleStop[] = [];
  for (const w of workloads) {
    if (w.runningSinceMs === null) continue;
    const max = w.rules.maxRuntimeSeconds;
    if (max !== undefined && nowMs - w.runningSinceMs >= max.value * 1000) {
      stops.push({
        workload: w.id,
        reason: 'MaxRuntimeExceeded',
        message: `stopped by rule maxRuntimeSeconds ${max.value} set by ${max.scope}: ${w.name} ran ${Math.floor((nowMs - w.runningSinceMs) / 1000)}s`,
      });
      continue;
    }
    const timeout = w.rules.idleGpuTimeoutSeconds;
    if (timeout === undefined) continue;
    const run = idleSince(w.gpus, idle, w.runningSinceMs);
    // Judged on whole windows: the idle time is what complete windows show, not the clock.
    if (run !== null && Math.min(run.throughMs, nowMs) - run.sinceMs >= timeout.value * 1000) {
      stops.push({
        workload: w.id,
        reason: 'IdleGpuTimeout',
        message: `stopped by rule idleGpuTimeoutSeconds ${timeout.value} set by ${timeout.scope}: all ${w.gpus.length} GPU(s) of ${w.name} at 0% utilization for ${Math.floor((run.throughMs - run.sinceMs) / 1000)}s`,
      });
    }
  }
  return stops;
}
