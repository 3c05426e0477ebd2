/**
 * When scheduling cycles run: soon after a change (coalesced, so a burst of submits or
 * pod reports makes one cycle, not one each), and on a periodic tick only when `idle()` says there is
 * something time alone can change (pending work, resends, minimum runtimes). Cycles never overlap:
 * the store is synchronous and a cycle runs to completion on the event loop.
 *
 * A cycle over a large cluster takes tens of milliseconds on the one event loop that also answers
 * every agent, so the wait before the next one grows with the last one's length: cycles never take
 * more than about a third of the loop, whatever the rate of changes.
 */
import type { Logger } from '../../common/log.ts';
import { type DefaultsOf, withDefaults } from '../../common/options.ts';

/** The loop's handle. */
export interface CycleLoop {
  /** Asks for a cycle; calls before it runs share it. */
  request(): void;
  /** Stops both timers; a requested cycle that has not run yet is dropped. */
  close(): void;
}

/** Options of `createCycleLoop`; durations in ms. */
export interface CycleLoopOptions {
  /** Least wait from a request to its cycle. */
  coalesceMs: number;
  /** How often the periodic tick asks for a cycle (unless `idle()`). */
  periodicMs: number;
  /** True when a periodic tick has nothing to do; default never idle. */
  idle?: () => boolean;
  /** Monotonic ms; injected for tests. Default `performance.now`. */
  clock?: () => number;
  /** Where a failed cycle is reported; default none (not logged). */
  log?: Logger;
}

/** The defaults of `CycleLoopOptions`, as its fields document them. */
const CYCLE_LOOP_DEFAULTS = {
  idle: () => false,
  clock: () => performance.now(),
} as const satisfies DefaultsOf<CycleLoopOptions>;

/** Starts the periodic timer; `run` is one whole cycle. */
export function createCycleLoop(run: () => void, given: CycleLoopOptions): CycleLoop {
  const options = withDefaults(given, CYCLE_LOOP_DEFAULTS);
  const { clock } = options;
  let pending: NodeJS.Timeout | null = null;
  let closed = false;
  let lastMs = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  const once = (): void => {
    pending = null;
    if (closed) return;
    const start = clock();
    try {
      run();
    } catch (e) {
      // One failed cycle (a store error) must not stop scheduling; the next change or tick retries.
      options.log?.error('scheduling cycle failed', { error: e instanceof Error ? e.message : String(e) });
    }
    lastEnd = clock();
    lastMs = lastEnd - start;
  };
  const request = (): void => {
    if (pending !== null || closed) return;
    // At least coalesceMs from now, and at least twice the last cycle's length after it ended.
    const wait = Math.max(options.coalesceMs, lastEnd + 2 * lastMs - clock());
    pending = setTimeout(once, wait);
  };
  const tick = (): void => {
    if (options.idle()) return;
    request();
  };
  const periodic = setInterval(tick, options.periodicMs);
  periodic.unref();
  return {
    request,
    close() {
      closed = true;
      clearInterval(periodic);
      if (pending !== null) clearTimeout(pending);
      pending = null;
    },
  };
}
