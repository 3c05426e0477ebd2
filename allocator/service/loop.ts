/**
 * When scheduling cycles run (issue 4): soon after a change (coalesced, so a burst of submits or
 * pod reports makes one cycle, not one each), and at least every `periodicMs` for what time alone
 * changes (minimum runtimes, stale gangs, resends). Cycles never overlap: the store is synchronous
 * and a cycle runs to completion on the event loop.
 */
import type { Logger } from '../../shared/log.ts';

/** The loop's handle. */
export interface CycleLoop {
  /** Asks for a cycle within `coalesceMs`; calls before it runs share it. */
  request(): void;
  /** Stops both timers; a requested cycle that has not run yet is dropped. */
  close(): void;
}

/** Starts the periodic timer; `run` is one whole cycle and must not throw past its own logging. */
export function createCycleLoop(
  run: () => void,
  options: { coalesceMs: number; periodicMs: number; log?: Logger },
): CycleLoop {
  let pending: NodeJS.Timeout | null = null;
  let closed = false;
  const once = (): void => {
    pending = null;
    if (closed) return;
    try {
      run();
    } catch (e) {
      // One failed cycle (a store error) must not stop scheduling; the next change or tick retries.
      options.log?.error('scheduling cycle failed', { error: e instanceof Error ? e.message : String(e) });
    }
  };
  const request = (): void => {
    if (pending !== null || closed) return;
    pending = setTimeout(once, options.coalesceMs);
  };
  const periodic = setInterval(request, options.periodicMs);
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
