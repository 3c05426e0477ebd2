/** Polling for the integration tests: check that something keeps holding (`until` waits for it). */

/** Polls `check` every 100 ms for `ms` and throws its complaint the first time it returns one. */
export async function holdsFor(check: () => Promise<string | null>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const bad = await check();
    if (bad !== null) throw new Error(bad);
    await new Promise((r) => setTimeout(r, 100));
  }
}
