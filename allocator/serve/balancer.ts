/**
 * Least-outstanding-requests balancing over a workload's ready endpoints: each request goes to the
 * replica with the fewest requests in flight through this proxy, ties broken round robin so equal
 * replicas share the load evenly rather than the first taking every idle-time request.
 */

/** Picks endpoints by key and counts what is in flight on each. */
export class Balancer {
  private readonly outstanding = new Map<string, number>();
  private turn = 0;

  /** The key among `keys` with the fewest requests in flight (ties: round robin); undefined for none. */
  pick(keys: readonly string[]): string | undefined {
    if (keys.length === 0) return undefined;
    let least = Number.POSITIVE_INFINITY;
    for (const k of keys) least = Math.min(least, this.outstanding.get(k) ?? 0);
    const tied = keys.filter((k) => (this.outstanding.get(k) ?? 0) === least);
    const chosen = tied[this.turn % tied.length];
    this.turn = (this.turn + 1) % 1_000_000_007;
    return chosen;
  }

  /** A request to `key` started; call `done` exactly once when it ends. */
  start(key: string): () => void {
    this.outstanding.set(key, (this.outstanding.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.outstanding.get(key) ?? 1) - 1;
      if (n <= 0) this.outstanding.delete(key);
      else this.outstanding.set(key, n);
    };
  }

  /** Requests in flight to `key`. */
  inFlight(key: string): number {
    return this.outstanding.get(key) ?? 0;
  }
}
