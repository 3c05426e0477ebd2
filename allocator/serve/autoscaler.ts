/**
 * The autoscaler, PURE (in the spirit of Knative's KPA): from a workload's load at the proxy it
 * recommends `ceil(observed / target)` replicas within the autoscaling range. Up at once; down only
 * to the highest recommendation of the last `stabilisationMs` (so a lull between bursts does not
 * stop replicas that the next burst needs); to zero only where minReplicas is 0 and nothing has
 * arrived for `scaleToZeroAfterSeconds`. No clock, no I/O: state in, decision and state out.
 */
import type { Autoscaling } from '../../common/workload-serving.ts';
import type { LoadSample } from './load-meter.ts';

/** Default stabilisation window before scaling down (Knative's and the HPA's order of magnitude). */
export const DEFAULT_STABILISATION_MS = 30_000;

/** Default longest wait of a request for a ready replica (a cold start) before its 503. */
export const DEFAULT_COLD_START_MS = 60_000;

/** What the autoscaler remembers of one workload between decisions. */
export interface ScalerState {
  /** Recent recommendations, oldest first, inside the stabilisation window. */
  history: { atMs: number; replicas: number }[];
  /** When the autoscaler first saw the workload: idle time counts from here before any request. */
  sinceMs: number;
}

/** A fresh state for a workload first seen at `nowMs`. */
export function initialScalerState(nowMs: number): ScalerState {
  return { history: [], sinceMs: nowMs };
}

/** One decision's input. */
export interface ScaleInput {
  autoscaling: Autoscaling;
  load: LoadSample;
  /** Ready replicas now (the latency metric scales from them). */
  ready: number;
  nowMs: number;
  stabilisationMs: number;
}

/** The replicas a workload should run, and the state for the next decision. */
export function decideReplicas(
  state: ScalerState,
  input: ScaleInput,
): { replicas: number; state: ScalerState } {
  const { autoscaling: a, load, nowMs } = input;
  const raw = rawRecommendation(a, load, input.ready);
  const idleSince = load.lastActivityMs ?? state.sinceMs;
  const idle = load.concurrency === 0 && nowMs - idleSince >= (a.scaleToZeroAfterSeconds ?? Infinity) * 1000;
  const floor = a.minReplicas > 0 ? a.minReplicas : idle ? 0 : 1;
  const recommended = Math.min(a.maxReplicas, Math.max(floor, raw));
  if (recommended === 0) return { replicas: 0, state: { ...state, history: [] } };
  const history = [
    ...state.history.filter((h) => h.atMs > nowMs - input.stabilisationMs),
    { atMs: nowMs, replicas: recommended },
  ];
  const replicas = Math.max(...history.map((h) => h.replicas));
  return { replicas, state: { ...state, history } };
}

/** `ceil(observed / target)` for the workload's metric; 0 without load. */
function rawRecommendation(a: Autoscaling, load: LoadSample, ready: number): number {
  switch (a.metric) {
    case 'concurrency':
      return Math.ceil(load.concurrency / a.target);
    case 'requestsPerSecond':
      // A request waiting at zero replicas counts even before a second of history exists.
      return Math.max(Math.ceil(load.requestsPerSecond / a.target), load.concurrency > 0 ? 1 : 0);
    case 'latencyP95Ms': {
      // Latency per replica falls roughly as replicas grow: scale today's count by how far off it is.
      const base = Math.max(1, ready);
      const scaled = load.latencyP95Ms === 0 ? 0 : Math.ceil((base * load.latencyP95Ms) / a.target);
      return Math.max(scaled, load.concurrency > 0 ? 1 : 0);
    }
  }
}
