import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedBuckets } from '../../../../allocator/scheduler/placement/buckets.ts';

/** All (key, entry) pairs visited by a walk. */
function walk(b: OrderedBuckets, dir: 'asc' | 'desc', bound: number): [number, number][] {
  const out: [number, number][] = [];
  const visit = (e: number, k: number): boolean => {
    out.push([k, e]);
    return false;
  };
  if (dir === 'asc') b.ascending(bound, visit);
  else b.descending(bound, visit);
  return out;
}

describe('OrderedBuckets', () => {
  it('walks keys ascending or descending, entries always ascending, across chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 20 })), {
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 7 }),
        (ops, bound) => {
          // A chunk span of 3 splits every key's entries into several chunks.
          const b = new OrderedBuckets(3);
          const model = new Set<string>();
          for (const [add, key, entry] of ops) {
            if (add) {
              if (!model.has(`${key}/${entry}`)) b.add(key, entry);
              model.add(`${key}/${entry}`);
            } else {
              b.remove(key, entry);
              model.delete(`${key}/${entry}`);
            }
          }
          const pairs = [...model].map((s) => s.split('/').map(Number) as [number, number]);
          const asc = pairs.filter(([k]) => k >= bound).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
          const desc = pairs.filter(([k]) => k >= bound).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
          expect(walk(b, 'asc', bound)).toEqual(asc);
          expect(walk(b, 'desc', bound)).toEqual(desc);
          const maxKey = pairs.length === 0 ? undefined : Math.max(...pairs.map(([k]) => k));
          expect(b.maxKey()).toBe(maxKey);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stops a walk as soon as the visitor says so', () => {
    const b = new OrderedBuckets(64);
    for (const e of [5, 1, 3]) b.add(2, e);
    const seen: number[] = [];
    const stopAt3 = (e: number): boolean => {
      seen.push(e);
      return e === 3;
    };
    expect(b.ascending(0, stopAt3)).toBe(true);
    expect(seen).toEqual([1, 3]);
  });
});
