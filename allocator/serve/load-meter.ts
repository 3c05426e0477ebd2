/**
 * What the proxy measures per workload for its autoscaler: requests in flight, requests per second
 * over a sliding window, and the p95 latency of the requests that ended in that window. Pure apart
 * from the clock it is given; a test drives it with a fake one.
 */

/** One workload's load as the autoscaler reads it. */
export interface LoadSample {
  /** Requests in flight now (including those waiting for a cold start). */
  concurrency: number;
  /** Requests started per second over the window. */
  requestsPerSecond: number;
  /** p95 of the latencies of requests that ended in the window; 0 with none. */
  latencyP95Ms: number;
  /** When the last request started or ended; null: never. */
  lastActivityMs: number | null;
}

/** Default sliding window: long enough to smooth bursts, short enough to scale up within seconds. */
export const DEFAULT_WINDOW_MS = 10_000;

/** Per-workload load accounting. */
export class LoadMeter {
  private inFlight = 0;
  private starts: number[] = [];
  private ends: { atMs: number; latencyMs: number }[] = [];
  private lastActivityMs: number | null = null;

  constructor(private readonly windowMs: number = DEFAULT_WINDOW_MS) {}

  /** A request started at `nowMs`; the returned function ends it (once) at its own `nowMs`. */
  begin(nowMs: number): (endMs: number) => void {
    this.inFlight += 1;
    this.starts.push(nowMs);
    this.lastActivityMs = nowMs;
    let ended = false;
    return (endMs) => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      this.ends.push({ atMs: endMs, latencyMs: Math.max(0, endMs - nowMs) });
      this.lastActivityMs = Math.max(this.lastActivityMs ?? endMs, endMs);
    };
  }

  /** The load at `nowMs`; drops what fell out of the window. */
  sample(nowMs: number): LoadSample {
    const since = nowMs - this.windowMs;
    this.starts = this.starts.filter((t) => t > since);
    this.ends = this.ends.filter((e) => e.atMs > since);
    return {
      concurrency: this.inFlight,
      requestsPerSecond: (this.starts.length * 1000) / this.windowMs,
      latencyP95Ms: percentile(
        this.ends.map((e) => e.latencyMs),
        0.95,
      ),
      lastActivityMs: this.lastActivityMs,
    };
  }
}

/** The `q` quantile (nearest rank) of `values`; 0 for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? 0;
}
