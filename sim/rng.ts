/**
 * The simulator's seeded random generator: xoshiro128** (Blackman & Vigna, 2018) seeded through
 * splitmix32. Chosen because it needs only 32-bit integer operations (fast in JavaScript without
 * BigInt), passes BigCrush, and is tiny enough to read. fgd-method.md §6 ("another random generator,
 * same method") measures that the paper's means do not depend on using Go's math/rand itself.
 */
import type { Rng } from '../allocator/scheduler/placement/policy.ts';

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seeded xoshiro128** generator. */
export class SeededRng implements Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Seeds from any safe integer (its low and high 32 bits both count). */
  constructor(seed: number) {
    // splitmix32 expands the seed into four well-mixed state words (never all zero).
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b9);
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, unbiased (rejection of the short last range). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`intn: bad bound ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float64(): number {
    const hi = this.uint32() >>> 5;
    const lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Fisher-Yates in place, from the last element down (the shape of Go's rand.Shuffle). */
  shuffle<T>(a: T[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.intn(i + 1);
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
  }

  /** A random permutation of 0..n-1 (inside-out Fisher-Yates, the shape of Go's rand.Perm). */
  perm(n: number): number[] {
    const m = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      const j = this.intn(i + 1);
      m[i] = m[j] ?? 0;
      m[j] = i;
    }
    return m;
  }
}
