/**
 * Turns the lines of the two sampling streams into GpuSamples: one per GPU round, plus one at once
 * for each process burst that changed.
 *
 * The GPU stream (`--query-gpu ... -lms N`) is the clock: every interval it prints one line per GPU,
 * in a burst. A round ends when (a) it holds every GPU index seen in the last few rounds, (b) a GPU
 * index repeats (the next round has begun), or (c) no line came for `quietMs`. (a) delivers a sample
 * as soon as its last line lands; (c) covers the first round and a GPU that fell off the bus. (a)
 * learns the set of GPUs rather than counting them, so a first round cut short by a slow write
 * costs one split sample, not a split every interval.
 *
 * The apps stream (`--query-compute-apps ... -lms N`) prints 0..n lines per interval and nothing at
 * all while no process runs, so its rounds cannot be counted. Its lines are grouped into bursts the
 * same way (a repeated gpu/pid pair or a quiet gap ends one), and each GPU sample carries the latest
 * burst, the one still arriving if any. A burst older than `staleMs` (two intervals) counts as "no
 * processes": that silence is how nvidia-smi says the last process exited, so a process that exited
 * may linger for two samples.
 *
 * The two streams run at the same interval but not in phase. Were process rows delivered only with
 * the next GPU round, an over-limit process would wait up to one interval for the apps stream and up
 * to another for the GPU stream before enforcement saw it (measured 1.05-1.8 s at 1 s). So a burst
 * that changed against the process list last delivered (a new gpu/pid pair, or a pair whose memory
 * moved) is delivered as soon as it ends, as a sample of its own with the latest GPU rows: at most
 * one extra sample per burst, and none while nothing changes (an idle or steady node samples once
 * per interval). Only what enforcement must act on triggers one: a pair that vanished frees memory,
 * and the next GPU round reports that soon enough.
 */
import type { GpuSample, GpuSampleRow, ProcessSampleRow } from './driver.ts';

/** How a SampleGrouper is tuned; intervalMs is the `-lms` both streams run at. */
export interface SampleGrouperOptions {
  intervalMs: number;
  /** The agent's clock, stamped on each sample. */
  now: () => number;
  /** Receives each complete sample. */
  emit: (sample: GpuSample) => void;
  /** Gap that ends a burst of lines; default a quarter interval, between 5 and 50 ms. */
  quietMs?: number;
  /** Age past which the latest process burst no longer counts; default 2 intervals + quietMs. */
  staleMs?: number;
}

/** `SampleGrouperOptions` complete. */
export type ResolvedSampleGrouperOptions = Required<SampleGrouperOptions>;

/** Fills in the defaults of `opts`; computed here, not in a table, as both follow the interval. */
export function resolveSampleGrouperOptions(opts: SampleGrouperOptions): ResolvedSampleGrouperOptions {
  const quietMs = opts.quietMs ?? Math.max(5, Math.min(50, Math.floor(opts.intervalMs / 4)));
  return { ...opts, quietMs, staleMs: opts.staleMs ?? 2 * opts.intervalMs + quietMs };
}

/** How many rounds a GPU may be missing before a round stops waiting for it. */
const ROUNDS_REMEMBERED = 3;

interface Burst {
  rows: ProcessSampleRow[];
  keys: Set<string>;
  lastLineAtMs: number;
}

const keyOf = (row: ProcessSampleRow): string => `${row.gpuUuid}/${row.pid}`;

/** Groups GPU and process lines into samples; see the file comment for the rules. */
export class SampleGrouper {
  readonly #opts: ResolvedSampleGrouperOptions;
  #round = new Map<number, GpuSampleRow>();
  /** GPU index -> the last round number it appeared in; indices gone for ROUNDS_REMEMBERED drop out. */
  #seen = new Map<number, number>();
  #roundNo = 0;
  #roundTimer: NodeJS.Timeout | undefined;
  #burst: Burst | undefined;
  #lastBurst: Burst | undefined;
  #burstTimer: NodeJS.Timeout | undefined;
  /** The GPU rows of the last round delivered: what a burst's own sample carries. */
  #lastGpus: GpuSampleRow[] | undefined;
  /** gpu/pid -> MiB of the process list last delivered, to tell a changed burst from a repeat. */
  #delivered = new Map<string, number | null>();

  constructor(opts: SampleGrouperOptions) {
    this.#opts = resolveSampleGrouperOptions(opts);
  }

  /** One parsed line of the GPU stream. */
  gpuLine(row: GpuSampleRow): void {
    if (this.#round.has(row.index)) this.#flushRound();
    this.#round.set(row.index, row);
    if (this.#seen.size > 0 && [...this.#seen.keys()].every((i) => this.#round.has(i))) {
      this.#flushRound();
      return;
    }
    clearTimeout(this.#roundTimer);
    this.#roundTimer = setTimeout(() => this.#flushRound(), this.#opts.quietMs);
  }

  /** One parsed line of the apps stream. */
  appsLine(row: ProcessSampleRow): void {
    const key = keyOf(row);
    if (this.#burst?.keys.has(key)) this.#endBurst();
    const now = this.#opts.now();
    this.#burst ??= { rows: [], keys: new Set(), lastLineAtMs: now };
    this.#burst.rows.push(row);
    this.#burst.keys.add(key);
    this.#burst.lastLineAtMs = now;
    clearTimeout(this.#burstTimer);
    this.#burstTimer = setTimeout(() => this.#endBurst(), this.#opts.quietMs);
  }

  /** Drops pending lines and timers (the streams stopped). */
  close(): void {
    clearTimeout(this.#roundTimer);
    clearTimeout(this.#burstTimer);
    this.#round.clear();
    this.#burst = undefined;
    this.#lastBurst = undefined;
    this.#lastGpus = undefined;
    this.#delivered.clear();
  }

  #endBurst(): void {
    clearTimeout(this.#burstTimer);
    const burst = this.#burst;
    if (burst === undefined) return;
    this.#lastBurst = burst;
    this.#burst = undefined;
    // Before the first GPU round there are no GPU rows to send along; that round carries the burst.
    if (this.#lastGpus === undefined || !this.#changed(burst.rows)) return;
    this.#deliver(this.#lastGpus, [...burst.rows]);
  }

  /** True when `rows` hold a gpu/pid pair the last sample lacked, or one whose memory differs. */
  #changed(rows: readonly ProcessSampleRow[]): boolean {
    return rows.some((r) => {
      const key = keyOf(r);
      return !this.#delivered.has(key) || this.#delivered.get(key) !== r.usedMemoryMiB;
    });
  }

  #processes(nowMs: number): ProcessSampleRow[] {
    const latest = this.#burst ?? this.#lastBurst;
    if (latest === undefined || nowMs - latest.lastLineAtMs > this.#opts.staleMs) return [];
    return [...latest.rows];
  }

  #deliver(gpus: GpuSampleRow[], processes: ProcessSampleRow[]): void {
    this.#delivered = new Map(processes.map((r) => [keyOf(r), r.usedMemoryMiB]));
    this.#opts.emit({ atMs: this.#opts.now(), gpus: [...gpus], processes });
  }

  #flushRound(): void {
    clearTimeout(this.#roundTimer);
    if (this.#round.size === 0) return;
    this.#roundNo += 1;
    for (const i of this.#round.keys()) this.#seen.set(i, this.#roundNo);
    for (const [i, last] of this.#seen) if (this.#roundNo - last >= ROUNDS_REMEMBERED) this.#seen.delete(i);
    const gpus = [...this.#round.values()].sort((a, b) => a.index - b.index);
    this.#round = new Map();
    this.#lastGpus = gpus;
    this.#deliver(gpus, this.#processes(this.#opts.now()));
  }
}
