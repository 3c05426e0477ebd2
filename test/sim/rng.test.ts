import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/rng.ts';

describe('SeededRng', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng(43);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(xs);
  });

  it('draws integers in [0, n) about uniformly and floats in [0, 1)', () => {
    const r = new SeededRng(7);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const x = r.intn(6);
      counts[x] = (counts[x] ?? 0) + 1;
    }
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    for (let i = 0; i < 1000; i++) {
      const f = r.float64();
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(() => r.intn(0)).toThrow(RangeError);
  });

  it('shuffles and permutes into permutations', () => {
    const r = new SeededRng(1);
    const a = Array.from({ length: 50 }, (_, i) => i);
    r.shuffle(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...r.perm(30)].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
