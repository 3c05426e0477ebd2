/** Summary statistics of a simulation's per-pod numbers (queueing delays in timed mode). */

/** Queueing delay statistics in seconds over placed pods; percentiles are nearest-rank. */
export interface DelayStats {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], pct: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((pct / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Mean, nearest-rank p50/p90/p99 and max of `values`. */
export function delayStats(values: readonly number[]): DelayStats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}
