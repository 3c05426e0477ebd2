/** Waiting in tests: the one poll every test uses, on vitest's `vi.waitFor`. */
import { vi } from 'vitest';

/** Thrown from an `until` check to stop waiting at once: what it waits for can no longer happen. */
export class GiveUp extends Error {}

/**
 * Polls `check` until it returns something truthy (not null, undefined or false) and returns that.
 * A throw counts as "not yet", except a `GiveUp`, which ends the wait with it. After `timeoutMs`
 * it throws "timed out after N ms waiting for <what>", with the check's last error if it threw.
 * It checks every `intervalMs` (default 20: a test goes on soon after; raise it for a costly check),
 * never two checks at once.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 3000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  // Boxes: the check writes them, the code after the wait reads them.
  const seen: { last: unknown; gaveUp: GiveUp | null } = { last: null, gaveUp: null };
  const notYet = new Error('not yet');
  try {
    const v = await vi.waitFor(
      async () => {
        let got: T;
        try {
          got = await check();
        } catch (e) {
          if (!(e instanceof GiveUp)) {
            seen.last = e;
            throw e;
          }
          seen.gaveUp = e;
          return null;
        }
        if (got === null || got === undefined || got === false) throw notYet;
        return got as NonNullable<T>;
      },
      { timeout: timeoutMs, interval: intervalMs },
    );
    if (seen.gaveUp !== null) throw seen.gaveUp;
    return v as NonNullable<T>;
  } catch (e) {
    if (e instanceof GiveUp) throw e;
    const { last } = seen;
    const why = last === null ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
  }
}
