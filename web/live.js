// @ts-check
/**
 * Live pages: each shown page asks its sources every POLL_MS. The next poll is scheduled only when
 * the last one ended, so a slow allocator never gets overlapping requests from one tab; leaving the
 * page aborts the request in flight and schedules nothing more.
 */
import { isAbort } from './api.js';
import { POLL_MS } from './constants.js';
import { markUpdated, pollFailed } from './status.js';

/**
 * @typedef {object} Live
 * @property {() => void} refresh asks again now (after an action), or right after the poll in flight
 * @property {() => void} stop
 */

/**
 * Polls `load` and hands each answer to `show`; a failure shows the poll banner and keeps the page.
 * @template T
 * @param {(signal: AbortSignal) => Promise<T>} load
 * @param {(data: T) => void} show
 * @param {() => number} [periodMs] the wait before the next poll, asked after each; default POLL_MS
 * @returns {Live}
 */
export function live(load, show, periodMs = () => POLL_MS) {
  const abort = new AbortController();
  let stopped = false;
  let inFlight = false;
  let again = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  async function tick() {
    timer = undefined;
    inFlight = true;
    try {
      const data = await load(abort.signal);
      if (stopped) return;
      show(data);
      markUpdated();
    } catch (e) {
      if (stopped || isAbort(e)) return;
      pollFailed(e);
    } finally {
      inFlight = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      void tick();
    } else timer = setTimeout(tick, periodMs());
  }

  void tick();
  return {
    refresh() {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      clearTimeout(timer);
      void tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      abort.abort();
    },
  };
}
