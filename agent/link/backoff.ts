/** Reconnect delays for the link: capped exponential backoff with full jitter (pure). */

/** Reconnect backoff bounds in ms: attempt n waits a random share of min(maxMs, initialMs * 2^n). */
export interface ReconnectBackoff {
  initialMs: number;
  maxMs: number;
}

/** Default: first retry within 0.5 s, never more than 30 s apart. */
export const RECONNECT_BACKOFF: ReconnectBackoff = { initialMs: 500, maxMs: 30_000 };

/**
 * The delay before reconnect attempt `attempt` (0-based), `random` in [0, 1). Full jitter (AWS
 * architecture blog, "Exponential Backoff And Jitter"): a fleet cut off together spreads its
 * reconnects over the whole window instead of stampeding the allocator in lockstep.
 */
export function backoffDelayMs(attempt: number, b: ReconnectBackoff, random: () => number): number {
  // 2^30 * any sane initialMs is already past any cap; the clamp keeps the power finite.
  const capMs = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * capMs);
}
