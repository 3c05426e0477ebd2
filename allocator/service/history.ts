/**
 * The usage history behind the console's plots: GPUs allocated and GPU utilization per project,
 * node pool and node, one point per sample, kept for a bounded window (24 h at one-minute samples by
 * default) in a ring of typed arrays. Pure: the caller hands it each sample with its time; the
 * sampler (history-sampler.ts) owns the clock and the reads.
 *
 * In memory only, like the GPU samples it partly comes from: lost on restart and on a leader change
 * (docs/architecture.md, "Usage history", says why a table was not worth it). Memory is bounded by
 * the window: 6 bytes a point (allocated as float32, utilization as uint16 tenths of a percent) and
 * the capacity kept only where it changes, about 8.4 KiB per series for a day of minutes.
 */

/** What a series describes. */
export type HistoryKind = 'project' | 'nodepool' | 'node';

/** The kinds, in the order routes and docs list them. */
export const HISTORY_KINDS: readonly HistoryKind[] = ['project', 'nodepool', 'node'];

/** One series' value at one sample. */
export interface HistoryValue {
  /** GPUs granted to pods, fractions counted (two half-GPU pods make 1). */
  allocatedGpus: number;
  /**
   * What the allocation is measured against: a node's or pool's GPUs, a project's deserved quota
   * summed over its pools.
   */
  capacityGpus: number;
  /**
   * Mean utilization of the series' GPUs that reported one: a node's or pool's GPUs; for a project,
   * the GPUs it holds, each weighted by its share of them. Null when none reported.
   */
  utilizationPct: number | null;
}

/** One point as a query returns it; a bucket's means when the query aggregates. */
export interface HistoryPoint extends HistoryValue {
  atMs: number;
}

/** One sample: every series present at `atMs`, by kind and name. */
export type HistorySample = ReadonlyMap<HistoryKind, ReadonlyMap<string, HistoryValue>>;

/** The ring's bounds. */
export interface HistoryShape {
  /** Time between two samples; the sampler's period. */
  intervalMs: number;
  /** How far back points are kept. */
  windowMs: number;
}

/** A window and an aggregation step for a query. */
export interface HistoryQuery {
  /** Points at or after this time; default the whole window. */
  sinceMs?: number;
  /** Mean over buckets this long (aligned to multiples of it); default every point as sampled. */
  stepMs?: number;
}

/** The bounded history. */
export interface History {
  readonly shape: HistoryShape;
  /** How many points each series can hold: windowMs / intervalMs. */
  readonly capacity: number;
  /**
   * Appends one sample; the oldest falls out once the ring is full. False, and nothing kept, when
   * `atMs` is older than the newest sample (the clock stepped back): points stay in time order.
   */
  record(atMs: number, sample: HistorySample): boolean;
  /** One series' points, oldest first; empty when it has none in the window. */
  points(kind: HistoryKind, name: string, query?: HistoryQuery): HistoryPoint[];
  /** Whether a series has any point in the window. */
  has(kind: HistoryKind, name: string): boolean;
  /** How many series are held (for memory accounting and tests). */
  seriesCount(): number;
}

/** Utilization is stored in tenths of a percent; this value means "no reading". */
const NO_READING = 0xffff;
const MAX_TENTHS = NO_READING - 1;

interface Series {
  allocated: Float32Array;
  utilTenths: Uint16Array;
  /** The capacity from each sequence number on, oldest first: it changes seldom. */
  capacity: { seq: number; gpus: number }[];
  /** The sequence number of the newest sample it was present in. */
  lastSeq: number;
}

/** The number of points a shape holds; at least 1. */
export function historyCapacity(shape: HistoryShape): number {
  return Math.max(1, Math.floor(shape.windowMs / shape.intervalMs));
}

/** An empty history of `shape`. */
export function createHistory(shape: HistoryShape): History {
  const capacity = historyCapacity(shape);
  const times = new Float64Array(capacity);
  // By kind, then name: a sample of thousands of nodes builds no key string per series.
  const series = new Map<HistoryKind, Map<string, Series>>(HISTORY_KINDS.map((k) => [k, new Map()]));
  const seriesOf = (kind: HistoryKind, name: string): Series | undefined => series.get(kind)?.get(name);
  // Sequence number of the next sample; the slot is seq % capacity.
  let seq = 0;

  const newSeries = (): Series => ({
    allocated: new Float32Array(capacity).fill(Number.NaN),
    utilTenths: new Uint16Array(capacity).fill(NO_READING),
    capacity: [],
    lastSeq: seq,
  });

  const write = (s: Series, slot: number, v: HistoryValue | undefined): void => {
    if (v === undefined) {
      s.allocated[slot] = Number.NaN;
      s.utilTenths[slot] = NO_READING;
      return;
    }
    s.allocated[slot] = v.allocatedGpus;
    s.utilTenths[slot] =
      v.utilizationPct === null
        ? NO_READING
        : Math.min(MAX_TENTHS, Math.max(0, Math.round(v.utilizationPct * 10)));
    const last = s.capacity.at(-1);
    if (last === undefined || last.gpus !== v.capacityGpus) s.capacity.push({ seq, gpus: v.capacityGpus });
    s.lastSeq = seq;
  };

  const oldestSeq = (): number => Math.max(0, seq - capacity);

  /** The capacity in force at sequence `at`: the newest change at or before it. */
  const capacityAt = (s: Series, at: number): number => {
    let gpus = s.capacity[0]?.gpus ?? 0;
    for (const c of s.capacity) {
      if (c.seq > at) break;
      gpus = c.gpus;
    }
    return gpus;
  };

  return {
    shape,
    capacity,
    record(atMs, sample) {
      const newest = seq === 0 ? Number.NEGATIVE_INFINITY : (times[(seq - 1) % capacity] ?? 0);
      if (atMs < newest) return false;
      const slot = seq % capacity;
      times[slot] = atMs;
      for (const [kind, values] of sample) {
        const byName = series.get(kind);
        if (byName === undefined) continue;
        for (const [name, v] of values) {
          let s = byName.get(name);
          if (s === undefined) {
            s = newSeries();
            byName.set(name, s);
          }
          write(s, slot, v);
        }
      }
      // Capacity changes that a newer one in the window supersedes are no longer needed.
      const oldest = seq + 1 - capacity;
      for (const byName of series.values()) {
        for (const [name, s] of byName) {
          // Written above when present in this sample; absent for a whole window, it goes.
          if (s.lastSeq !== seq) {
            if (seq - s.lastSeq >= capacity) {
              byName.delete(name);
              continue;
            }
            write(s, slot, undefined);
          }
          while (s.capacity.length > 1 && (s.capacity[1]?.seq ?? Number.POSITIVE_INFINITY) <= oldest)
            s.capacity.shift();
        }
      }
      seq += 1;
      return true;
    },
    points(kind, name, query = {}) {
      const s = seriesOf(kind, name);
      if (s === undefined) return [];
      const since = query.sinceMs ?? Number.NEGATIVE_INFINITY;
      const raw: HistoryPoint[] = [];
      for (let at = oldestSeq(); at < seq; at++) {
        const slot = at % capacity;
        const atMs = times[slot] ?? 0;
        const allocated = s.allocated[slot] ?? Number.NaN;
        if (atMs < since || Number.isNaN(allocated)) continue;
        const tenths = s.utilTenths[slot] ?? NO_READING;
        raw.push({
          atMs,
          allocatedGpus: roundGpus(allocated),
          capacityGpus: capacityAt(s, at),
          utilizationPct: tenths === NO_READING ? null : tenths / 10,
        });
      }
      return query.stepMs === undefined ? raw : aggregate(raw, query.stepMs);
    },
    has(kind, name) {
      const s = seriesOf(kind, name);
      return s !== undefined && s.lastSeq >= oldestSeq();
    },
    seriesCount: () => [...series.values()].reduce((n, m) => n + m.size, 0),
  };
}

/** GPUs to the store's precision (milli-GPU): float32 keeps 0.1 as 0.100000001. */
function roundGpus(gpus: number): number {
  return Math.round(gpus * 1000) / 1000;
}

/**
 * Points averaged in buckets of `stepMs` aligned to multiples of it, each stamped with its bucket's
 * start: allocation and capacity as means of the points, utilization as the mean of the readings
 * (null when the bucket has none).
 */
export function aggregate(points: readonly HistoryPoint[], stepMs: number): HistoryPoint[] {
  if (!(stepMs > 0)) throw new Error(`aggregation step must be positive, not ${stepMs}`);
  const out: HistoryPoint[] = [];
  let bucket = Number.NaN;
  let n = 0;
  let allocated = 0;
  let capacity = 0;
  let readings = 0;
  let util = 0;
  const flush = (): void => {
    if (n === 0) return;
    out.push({
      atMs: bucket,
      allocatedGpus: roundGpus(allocated / n),
      capacityGpus: roundGpus(capacity / n),
      utilizationPct: readings === 0 ? null : Math.round((util / readings) * 10) / 10,
    });
  };
  for (const p of points) {
    const b = Math.floor(p.atMs / stepMs) * stepMs;
    if (b !== bucket) {
      flush();
      bucket = b;
      n = allocated = capacity = readings = util = 0;
    }
    n += 1;
    allocated += p.allocatedGpus;
    capacity += p.capacityGpus;
    if (p.utilizationPct !== null) {
      readings += 1;
      util += p.utilizationPct;
    }
  }
  flush();
  return out;
}
