/** Polling for the integration tests: wait until something holds, or check it keeps holding. */

/** Thrown from a `waitFor` check to stop waiting at once: what it waits for can no longer happen. */
export class GiveUp extends Error {}

/**
 * Polls `check` every 50 ms until it returns something truthy; a throw counts as "not yet" (the
 * last one is named on timeout), except a `GiveUp`, which ends the wait with it.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const why =
        last === null ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` every 100 ms for `ms` and throws its complaint the first time it returns one. */
export async function holdsFor(check: () => Promise<string | null>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const bad = await check();
    if (bad !== null) throw new Error(bad);
    await new Promise((r) => setTimeout(r, 100));
  }
}
