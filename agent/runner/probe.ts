/**
 * The readiness prober of one pod: when to check, and what a check's result does to readiness. The
 * decisions (`afterCheck`, `firstCheckDelayMs`) are pure; `startProber` drives them with one timer
 * per pod and at most one check in flight, and the check itself is injected (probe-check.ts does it
 * over node:http / node:net), so a test runs the whole schedule on a fake clock.
 *
 * Kubernetes' rules, with successThreshold 1: a pod not yet ready becomes ready on its first passing
 * check; a ready pod becomes not ready after `failureThreshold` consecutive failures, and ready again
 * on its next pass.
 */
import type { ProbeSpec } from './types.ts';

/** What one check found; `why` is for the pod's events log. */
export type CheckResult = { ok: true; why: string } | { ok: false; why: string };

/** The prober's memory between checks. */
export interface ProbeState {
  ready: boolean;
  /** Consecutive failed checks since the last pass. */
  failures: number;
}

/** A state after a check, and the readiness change to report, if any. */
export interface ProbeStep {
  state: ProbeState;
  change: 'ready' | 'unready' | null;
}

/** The state after a check with `result`, for a probe that gives up readiness after `failureThreshold` failures. */
export function afterCheck(state: ProbeState, result: CheckResult, failureThreshold: number): ProbeStep {
  if (result.ok) return { state: { ready: true, failures: 0 }, change: state.ready ? null : 'ready' };
  const failures = state.failures + 1;
  // Only the crossing reports: a pod already not ready stays quiet however long it keeps failing.
  if (state.ready && failures >= failureThreshold)
    return { state: { ready: false, failures }, change: 'unready' };
  return { state: { ready: state.ready, failures }, change: null };
}

/** How long until the first check: what is left of the initial delay since the pod started. */
export function firstCheckDelayMs(spec: ProbeSpec, startedAtMs: number, nowMs: number): number {
  return Math.max(0, startedAtMs + spec.initialDelayMs - nowMs);
}

/** The timer functions the prober uses; the default is the global ones, unref'd. */
export interface ProbeTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const GLOBAL_TIMERS: ProbeTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Options of `startProber`. */
export interface ProberOptions {
  spec: ProbeSpec;
  /** Whether the pod is ready now (an adopted pod may be); default false. */
  ready?: boolean;
  /** Delay before the first check (firstCheckDelayMs). */
  firstDelayMs: number;
  /** One check; must settle within about `spec.timeoutMs` and never reject. */
  check: (spec: ProbeSpec) => Promise<CheckResult>;
  /** Readiness changed: true on the first pass (or a pass after unready), false on the threshold's failure. */
  onChange: (ready: boolean, why: string) => void;
  /** Default: the global timers, unref'd so a prober never keeps the process alive. */
  timers?: ProbeTimers;
}

/** A running prober; `stop` ends it (a check in flight is let finish and ignored). */
export interface Prober {
  stop(): void;
  readonly state: ProbeState;
}

/** Starts probing: the first check after `firstDelayMs`, then one `periodMs` after each answer. */
export function startProber(opts: ProberOptions): Prober {
  const timers = opts.timers ?? GLOBAL_TIMERS;
  const { spec } = opts;
  let state: ProbeState = { ready: opts.ready ?? false, failures: 0 };
  let stopped = false;
  let timer: unknown = null;

  const run = async (): Promise<void> => {
    timer = null;
    let result: CheckResult;
    try {
      result = await opts.check(spec);
    } catch (x) {
      // A check that throws is a bug in it, but to the pod it is one more failed check.
      result = { ok: false, why: `check threw: ${String(x)}` };
    }
    if (stopped) return;
    const step = afterCheck(state, result, spec.failureThreshold);
    state = step.state;
    if (step.change !== null) {
      const why =
        step.change === 'ready'
          ? result.why
          : `${state.failures} consecutive failed checks, last: ${result.why}`;
      opts.onChange(step.change === 'ready', why);
    }
    if (!stopped) schedule(spec.periodMs);
  };
  const schedule = (ms: number): void => {
    timer = timers.set(() => void run(), ms);
  };

  schedule(opts.firstDelayMs);
  return {
    stop() {
      stopped = true;
      if (timer !== null) timers.clear(timer);
      timer = null;
    },
    get state() {
      return { ...state };
    },
  };
}
