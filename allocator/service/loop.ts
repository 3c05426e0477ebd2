/**
 * When scheduling cycles run: soon after a change (coalesced, so a burst of submits or
 * pod reports makes one cycle, not one each), and on a periodic tick only when `idle()` says there is
 * something time alone can change (pending work, resends, minimum runtimes). Cycles never overlap:
 * a cycle may be asynchronous (the scheduler runs on its own thread and the plan is committed and
 * dispatched in slices between which the event loop answers agents), and the next one starts only
 * once it has finished.
 *
 * The wait before the next cycle grows with the last one's length, so cycles never take more than
 * about a third of the time, whatever the rate of changes: on a 2-core machine the scheduler's
 * thread must leave the other core to the event loop.
 */
import type { Logger } from '../../common/log.ts';
import { type DefaultsOf, withDefaults } from '../../common/options.ts';

/** The loop's handle. */
export interface CycleLoop {
  /** Asks for a cycle; calls before it runs share it. */
  request(): void;
  /** Runs a cycle now, after the one in flight if any; resolves when it has finished. */
  runNow(): Promise<void>;
  /** Stops both timers; a requested cycle that has not run yet is dropped. */
  close(): void;
  /** Resolves once no cycle is running (after `close`, none will start). */
  settled(): Promise<void>;
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

/** Starts the periodic timer; `run` is one whole cycle, synchronous or not. */
export function createCycleLoop(run: () => void | Promise<void>, given: CycleLoopOptions): CycleLoop {
  const options = withDefaults(given, CYCLE_LOOP_DEFAULTS);
  const { clock } = options;
  let pending: NodeJS.Timeout | null = null;
  let closed = false;
  let lastMs = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  // The cycles in flight, one after another; `running` counts them.
  let tail: Promise<void> = Promise.resolve();
  let running = 0;
  // A timer fired while a cycle ran: asked again (with its spacing) once that one ends.
  let deferred = false;
  const failed = (e: unknown): void => {
    // One failed cycle (a store error) must not stop scheduling; the next change or tick retries.
    options.log?.error('scheduling cycle failed', { error: e instanceof Error ? e.message : String(e) });
  };
  // A synchronous `run` is done when it returns: no microtask between a timer and its cycle's end.
  const runOnce = (): Promise<void> | undefined => {
    const start = clock();
    const done = (): void => {
      lastEnd = clock();
      lastMs = lastEnd - start;
    };
    let result: void | Promise<void>;
    try {
      result = run();
    } catch (e) {
      failed(e);
      result = undefined;
    }
    if (result === undefined) {
      done();
      return undefined;
    }
    return result.then(done, (e: unknown) => {
      failed(e);
      done();
    });
  };
  const finished = (): void => {
    running -= 1;
    if (running === 0 && deferred) {
      deferred = false;
      request();
    }
  };
  const enqueue = (): Promise<void> => {
    running += 1;
    if (running === 1) {
      const r = runOnce();
      if (r === undefined) {
        finished();
        tail = Promise.resolve();
      } else tail = r.finally(finished);
    } else tail = tail.then(() => runOnce()).finally(finished);
    return tail;
  };
  const once = (): void => {
    pending = null;
    if (closed) return;
    if (running > 0) deferred = true;
    else void enqueue();
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
    runNow: () => enqueue(),
    close() {
      closed = true;
      clearInterval(periodic);
      if (pending !== null) clearTimeout(pending);
      pending = null;
    },
    settled: () => tail,
  };
}
