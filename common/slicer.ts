/**
 * Time slices for long work on the event loop: the work asks `due()` between two steps and, when the
 * slice has run `budgetMs`, awaits `pause()`, which lets timers and I/O (an agent's frames, an API
 * request) run before the next slice. Used by the allocator's cycle to commit and dispatch a large
 * plan without a stall (docs/architecture.md §3, "Cycles off the event loop").
 */

/** Where long work may pause: `due()` when the current slice has run long enough. */
export interface Slicer {
  due(): boolean;
  pause(): Promise<void>;
}

/** A slicer whose slices last about `budgetMs` (monotonic `clock`, `performance.now` by default). */
export function createSlicer(budgetMs: number, clock: () => number = () => performance.now()): Slicer {
  let sliceStart = clock();
  return {
    due: () => clock() - sliceStart >= budgetMs,
    pause: () =>
      new Promise<void>((resolve) => {
        // setImmediate runs after the poll phase: whatever I/O waited is handled first.
        setImmediate(() => {
          sliceStart = clock();
          resolve();
        });
      }),
  };
}

/** A slicer that never pauses: the sliced path run to completion in one go (tests, `cycleNow`). */
export const NEVER_PAUSE: Slicer = { due: () => false, pause: () => Promise.resolve() };
