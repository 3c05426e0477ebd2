/**
 * Ordered buckets: integer keys kept sorted, each holding integer entries kept sorted. The placer's
 * capacity index is two of these (nodes by fully free GPUs and free milli; GPUs by free milli), so
 * a placement walks keys in order and stops at the first entry that fits instead of scoring nodes.
 *
 * A key's entries are split into chunks of `chunkSpan` consecutive entry values, each its own
 * sorted array: on a fresh cluster every node shares one key, and one sorted array of 40,000 GPUs
 * would make every update pay a 40,000-element splice.
 */

/** Index of the first element >= x in a sorted array. */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Chunks per key: keys are stored as key x CHUNKS + chunk, which stays a safe integer for keys < 2^40. */
const CHUNKS = 2 ** 13;

/** Sorted integer keys, each with a sorted list of integer entries. */
export class OrderedBuckets {
  /** key x CHUNKS + chunk, sorted. */
  private readonly slots: number[] = [];
  private readonly buckets = new Map<number, number[]>();

  /** `chunkSpan`: how many consecutive entry values share one chunk. */
  constructor(private readonly chunkSpan: number) {}

  private slotOf(key: number, entry: number): number {
    return key * CHUNKS + Math.min(Math.floor(entry / this.chunkSpan), CHUNKS - 1);
  }

  /** Adds `entry` under `key`. */
  add(key: number, entry: number): void {
    const slot = this.slotOf(key, entry);
    let b = this.buckets.get(slot);
    if (b === undefined) {
      b = [];
      this.buckets.set(slot, b);
      this.slots.splice(lowerBound(this.slots, slot), 0, slot);
    }
    b.splice(lowerBound(b, entry), 0, entry);
  }

  /** Removes `entry` from `key`; a no-op when absent. */
  remove(key: number, entry: number): void {
    const slot = this.slotOf(key, entry);
    const b = this.buckets.get(slot);
    if (b === undefined) return;
    const i = lowerBound(b, entry);
    if (b[i] !== entry) return;
    b.splice(i, 1);
    if (b.length === 0) {
      this.buckets.delete(slot);
      this.slots.splice(lowerBound(this.slots, slot), 1);
    }
  }

  private visitSlot(slot: number, visit: (entry: number, key: number) => boolean): boolean {
    const key = Math.floor(slot / CHUNKS);
    for (const e of this.buckets.get(slot) ?? []) if (visit(e, key)) return true;
    return false;
  }

  /** Entries of keys >= `from`, keys ascending, entries ascending; stops when `visit` returns true. */
  ascending(from: number, visit: (entry: number, key: number) => boolean): boolean {
    for (let s = lowerBound(this.slots, from * CHUNKS); s < this.slots.length; s++) {
      if (this.visitSlot(this.slots[s] ?? 0, visit)) return true;
    }
    return false;
  }

  /** Entries of keys >= `downTo`, keys descending, entries ascending; stops when `visit` returns true. */
  descending(downTo: number, visit: (entry: number, key: number) => boolean): boolean {
    const stop = lowerBound(this.slots, downTo * CHUNKS);
    let end = this.slots.length;
    while (end > stop) {
      // The chunks of one key are contiguous: find them, then walk them in entry order.
      const key = Math.floor((this.slots[end - 1] ?? 0) / CHUNKS);
      const start = Math.max(stop, lowerBound(this.slots, key * CHUNKS));
      for (let s = start; s < end; s++) if (this.visitSlot(this.slots[s] ?? 0, visit)) return true;
      end = start;
    }
    return false;
  }

  /** The largest key, or undefined when empty. */
  maxKey(): number | undefined {
    const last = this.slots[this.slots.length - 1];
    return last === undefined ? undefined : Math.floor(last / CHUNKS);
  }
}
