/** The pod run-state lifecycle on a node: the transition table and the one gate over it. */
import type { PodRunState } from './types.ts';

/**
 * Which run states each run state may move to. `exited` and `lost` are final. The allocator's pod
 * phases are another lifecycle with their own table (common/phases.ts POD_TRANSITIONS).
 */
export const RUN_STATE_TRANSITIONS: Readonly<Record<PodRunState, readonly PodRunState[]>> = {
  starting: ['running', 'exited', 'lost'],
  running: ['ready', 'stopping', 'exited', 'lost', 'swapped-out'],
  // ready -> running: its readiness probe failed its threshold (probe.ts); a pass makes it ready again.
  ready: ['running', 'stopping', 'exited', 'lost', 'swapped-out'],
  'swapped-out': ['running', 'ready', 'stopping', 'exited', 'lost'],
  stopping: ['exited', 'lost'],
  exited: [],
  lost: [],
};

/** True when a pod in `from` may move to `to`; the runner changes state only through this. */
export function canRunStateTransition(from: PodRunState, to: PodRunState): boolean {
  return RUN_STATE_TRANSITIONS[from].includes(to);
}

/** True for the final states: the pod's process is gone and nothing more will be reported of it. */
export function isEnded(state: PodRunState): boolean {
  return state === 'exited' || state === 'lost';
}
