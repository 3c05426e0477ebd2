import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideReclaim } from '../../../agent/enforce/dynamic-fractions.ts';
import type { EnforcedPod, GpuCapacity } from '../../../agent/enforce/types.ts';
import { grant, pod, sample } from './helpers.ts';

const cap = (uuid: string, totalMiB: number, reservedMiB = 0): GpuCapacity => ({
  uuid,
  totalMiB,
  reservedMiB,
});

describe('decideReclaim', () => {
  // GPU-x 16000 MiB. a: request 8000, uses 3000 (5000 short). b: request 4000, limit 12000, uses 10000.
  // free = 16000 - 13000 = 3000 < need 5000: b, the borrower, must give memory back.
  const pods = [pod('a', [1], [grant('GPU-x', 8000)]), pod('b', [2], [grant('GPU-x', 4000, 12000)])];
  const s = sample([
    ['GPU-x', 1, 3000],
    ['GPU-x', 2, 10000],
  ]);
  const reason =
    'dynamic fraction reclaim: pod b uses 10000 MiB on GPU-x, borrowing 6000 MiB over its request of 4000 MiB; ' +
    'pod a needs 5000 MiB more to reach its request and only 3000 MiB is free';

  it('swaps the borrower out when swap is enabled', () => {
    const d = decideReclaim(s, pods, [cap('GPU-x', 16000)], true);
    expect(d.actions).toEqual([
      {
        action: 'swap-out',
        podId: 'b',
        event: {
          atMs: 1000,
          kind: 'swap-out',
          podId: 'b',
          gpuUuid: 'GPU-x',
          reason,
          usedMiB: 10000,
          limitMiB: 12000,
          requestMiB: 4000,
        },
      },
    ]);
    expect(d.gpus).toEqual([{ gpuUuid: 'GPU-x', freeMiB: 3000, neededMiB: 5000, deficitMiB: 2000 }]);
  });

  it('kills the borrower when swap is off', () => {
    const d = decideReclaim(s, pods, [cap('GPU-x', 16000)], false);
    expect(d.actions.map((a) => [a.action, a.podId, a.event.kind, a.event.reason])).toEqual([
      ['kill', 'b', 'reclaim-kill', reason],
    ]);
  });

  it('reclaims a borrower whatever its priority', () => {
    const vip = [pods[0]!, { ...pods[1]!, priority: 125 }];
    expect(decideReclaim(s, vip, [cap('GPU-x', 16000)], false).actions.map((a) => a.podId)).toEqual(['b']);
  });

  it('does nothing while every tenant can still get its request', () => {
    // Same pods on a 20000 MiB GPU: free 7000 >= need 5000.
    const d = decideReclaim(s, pods, [cap('GPU-x', 20000)], false);
    expect(d.actions).toEqual([]);
    expect(d.gpus).toEqual([{ gpuUuid: 'GPU-x', freeMiB: 7000, neededMiB: 5000, deficitMiB: -2000 }]);
  });

  it('counts reserved memory as unusable', () => {
    // 19000 total, 4000 reserved: free = 19000 - 4000 - 13000 = 2000 < 5000.
    expect(decideReclaim(s, pods, [cap('GPU-x', 19000, 4000)], false).actions).toHaveLength(1);
  });

  it('restores the invariant with the fewest reclaims, largest borrow first', () => {
    // GPU 18000. a: request 10000, uses 0. b borrows 3000 (uses 5000, prio 50), d borrows 3000
    // (uses 4000, prio 10), c borrows 2500 (uses 4500). used 13500, free 4500, need 10000: deficit 5500.
    // d first (same borrow as b, lower priority) frees 4000 -> 1500 left; b frees 5000 -> done; c untouched.
    const ps = [
      pod('a', [1], [grant('GPU-x', 10000)]),
      pod('b', [2], [grant('GPU-x', 2000, 8000)], 50),
      pod('c', [3], [grant('GPU-x', 2000, 8000)], 50),
      pod('d', [4], [grant('GPU-x', 1000, 8000)], 10),
    ];
    const ss = sample([
      ['GPU-x', 2, 5000],
      ['GPU-x', 3, 4500],
      ['GPU-x', 4, 4000],
    ]);
    const d = decideReclaim(ss, ps, [cap('GPU-x', 18000)], false);
    expect(d.actions.map((a) => a.podId)).toEqual(['d', 'b']);
    // One reclaim is enough when the deficit is smaller: 20000 MiB leaves a deficit of 3500.
    expect(decideReclaim(ss, ps, [cap('GPU-x', 20000)], false).actions.map((a) => a.podId)).toEqual(['d']);
  });

  it('never reclaims when nobody is below its request', () => {
    // Unknown processes fill the GPU, but both tenants have their requests: nobody needs anything.
    const ps = [pod('a', [1], [grant('GPU-x', 1000)]), pod('b', [2], [grant('GPU-x', 1000, 4000)])];
    const ss = sample([
      ['GPU-x', 1, 1000],
      ['GPU-x', 2, 3000],
      ['GPU-x', 99, 20000],
    ]);
    expect(decideReclaim(ss, ps, [cap('GPU-x', 16000)], false).actions).toEqual([]);
  });

  it('counts unknown processes as used but never reclaims them', () => {
    // a needs 4000; free = 16000 - (0 + 3000 + 12000) = 1000. Only b is a borrower.
    const ps = [pod('a', [1], [grant('GPU-x', 4000)]), pod('b', [2], [grant('GPU-x', 1000, 4000)])];
    const ss = sample([
      ['GPU-x', 2, 3000],
      ['GPU-x', 99, 12000],
    ]);
    const d = decideReclaim(ss, ps, [cap('GPU-x', 16000)], true);
    expect(d.actions.map((a) => a.podId)).toEqual(['b']);
  });

  it('treats pods already leaving as gone: no second action, their memory on its way back', () => {
    expect(decideReclaim(s, pods, [cap('GPU-x', 16000)], false, new Set(['b'])).actions).toEqual([]);
  });

  it('a pod reclaimed on one GPU frees its memory on the others it spans', () => {
    // b spans GPU-x and GPU-y and is reclaimed on GPU-x; on GPU-y its 6000 MiB then count as free.
    const ps = [
      pod('a', [1], [grant('GPU-x', 8000)]),
      pod('b', [2, 3], [grant('GPU-x', 4000, 12000), grant('GPU-y', 1000, 8000)]),
      pod('c', [4], [grant('GPU-y', 8000)]),
      pod('e', [5], [grant('GPU-y', 1000, 8000)]),
    ];
    const ss = sample([
      ['GPU-x', 1, 3000],
      ['GPU-x', 2, 10000],
      ['GPU-y', 3, 6000],
      ['GPU-y', 5, 3000],
    ]);
    // GPU-y: free 16000 - 9000 = 7000 < c's 8000, but with b gone free is 13000: e is left alone.
    const d = decideReclaim(ss, ps, [cap('GPU-x', 16000), cap('GPU-y', 16000)], false);
    expect(d.actions.map((a) => a.podId)).toEqual(['b']);
  });

  it('names every tenant that needs memory', () => {
    const ps = [...pods, pod('c', [3], [grant('GPU-x', 2000)])];
    const d = decideReclaim(s, ps, [cap('GPU-x', 16000)], false);
    expect(d.actions[0]?.event.reason).toContain(
      'pods a (5000 MiB), c (2000 MiB) need 7000 MiB more to reach their requests and only 3000 MiB is free',
    );
  });

  it('property: afterwards the invariant holds or every borrower was reclaimed, and no reclaim was spare', () => {
    const tenant = fc.record({
      requestMiB: fc.integer({ min: 0, max: 8000 }),
      usedMiB: fc.integer({ min: 0, max: 12000 }),
    });
    fc.assert(
      fc.property(
        fc.array(tenant, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 60000 }),
        (ts, totalMiB) => {
          const ps: EnforcedPod[] = ts.map((t, i) =>
            pod(`p${i}`, [i + 1], [grant('G', t.requestMiB, 20000)], i % 3),
          );
          const ss = sample(ts.map((t, i) => ['G', i + 1, t.usedMiB] as [string, number, number]));
          const d = decideReclaim(ss, ps, [cap('G', totalMiB)], false);
          const deficit = (gone: Set<string>): number => {
            const left = ts.filter((_, i) => !gone.has(`p${i}`));
            const free = totalMiB - left.reduce((a, t) => a + t.usedMiB, 0);
            const need = left.reduce((a, t) => a + Math.max(0, t.requestMiB - t.usedMiB), 0);
            return need === 0 ? 0 : need - free;
          };
          const reclaimed = d.actions.map((a) => a.podId);
          const borrowers = ts.filter((t) => t.usedMiB > t.requestMiB).length;
          // Only borrowers are reclaimed, each at most once.
          expect(new Set(reclaimed).size).toBe(reclaimed.length);
          for (const id of reclaimed) {
            const t = ts[Number(id.slice(1))]!;
            expect(t.usedMiB).toBeGreaterThan(t.requestMiB);
          }
          expect(deficit(new Set(reclaimed)) <= 0 || reclaimed.length === borrowers).toBe(true);
          if (reclaimed.length > 0) expect(deficit(new Set(reclaimed.slice(0, -1)))).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
