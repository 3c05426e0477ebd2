/**
 * agent/enforce: each pod's share of a GPU, enforced from the per-process samples (docs/architecture.md §4).
 *
 * - types.ts            the seams: PodControl (runner), SwapControl (GPU driver), EnforcedPod, events
 * - usage.ts            a sample's process memory attributed to pods by pid
 * - memory-limit.ts     pure: pods over their GPU memory limit are killed (GPU OOM)
 * - dynamic-fractions.ts pure: borrowers give memory back when a neighbour needs its request
 * - time-slice.ts       pure windows (strict / fair) and the SIGSTOP/SIGCONT slicer over them
 * - swap.ts             the host-RAM swap pool and idle-victim selection
 * - enforcer.ts         runs the decisions on every sample and carries them out, with counters
 */
export { decideReclaim, type GpuMemoryBalance, type ReclaimDecision } from './dynamic-fractions.ts';
export {
  createEnforcer,
  type Enforcer,
  type EnforcerCounters,
  type EnforcerOptions,
  zeroCounters,
} from './enforcer.ts';
export { decideMemoryLimits, type MemoryLimitDecision } from './memory-limit.ts';
export {
  createSwapPool,
  type IdleCandidate,
  type IdleVictims,
  pickIdleVictims,
  type SwapEntry,
  type SwapOutcome,
  type SwapPool,
  type SwapPoolOptions,
  type SwapSubject,
} from './swap.ts';
export {
  createTimeSlicer,
  type GpuTenants,
  type SetSliceTimer,
  type SliceMode,
  type SliceTenant,
  type SliceWindow,
  sliceWindows,
  type TimeSlicer,
  type TimeSlicerOptions,
  type TimeSlicerStats,
} from './time-slice.ts';
export type {
  EnforceAction,
  EnforcedPod,
  EnforceEvent,
  EnforceEventKind,
  GpuCapacity,
  PodControl,
  SwapControl,
} from './types.ts';
export { controlFailure, LIVE_STATES } from './types.ts';
export { indexUsage, type UsageIndex } from './usage.ts';
