import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeFairShares, type QueueShare } from '../../../allocator/scheduler/fairshare.ts';
import {
  compareQueues,
  compareQueuesAcrossPools,
  dominantShare,
  isOverFairShare,
  isWithinDeserved,
} from '../../../allocator/scheduler/queue-order.ts';
import type { QueueSnap } from '../../../allocator/scheduler/snapshot.ts';
import type { Resources } from '../../../common/resources.ts';

function res(gpuMilli: number, cpuMillis = 0, memoryMiB = 0): Resources {
  return { gpuMilli, cpuMillis, memoryMiB };
}

function mkShare(s: { allocated: Resources; deserved?: Resources; fairShare?: Resources }): QueueShare {
  return {
    allocated: s.allocated,
    deserved: s.deserved ?? res(0),
    fairShare: s.fairShare ?? res(0),
    limit: { gpuMilli: -1, cpuMillis: -1, memoryMiB: -1 },
    requestable: s.fairShare ?? res(0),
    overQuotaWeight: 1,
  };
}

/** A tiny world: queues with createdOrder by position and a share each in pool 'p'. */
function world(entries: [name: string, parent: string | null, share: QueueShare][]): {
  queues: Map<string, QueueSnap>;
  shares: Map<string, Map<string, QueueShare>>;
} {
  const queues = new Map<string, QueueSnap>();
  const shares = new Map<string, Map<string, QueueShare>>();
  entries.forEach(([name, parent, s], i) => {
    queues.set(name, { name, parent, createdOrder: i, quotas: {} });
    shares.set(name, new Map([['p', s]]));
  });
  return { queues, shares };
}

function order(
  names: string[],
  w: ReturnType<typeof world>,
  next?: ReadonlyMap<string, Resources>,
): string[] {
  return [...names].sort((a, b) => compareQueues(a, b, 'p', w.shares, w.queues, next));
}

describe('dominantShare', () => {
  it('takes the largest allocated / max(deserved, fairShare) over resources', () => {
    const s = mkShare({ allocated: res(2000, 1000), deserved: res(4000), fairShare: res(1000, 4000) });
    expect(dominantShare(s)).toBe(0.5);
    expect(dominantShare(s, res(4000))).toBe(1.5);
    expect(dominantShare(s, res(0, 7000))).toBe(2);
  });

  it('skips resources with nothing held and no entitlement, and is 0 for an empty queue', () => {
    expect(dominantShare(mkShare({ allocated: res(0) }))).toBe(0);
    expect(dominantShare(mkShare({ allocated: res(500), fairShare: res(1000) }))).toBe(0.5);
  });

  it('is infinite when the queue holds a resource it is entitled to none of', () => {
    expect(dominantShare(mkShare({ allocated: res(500), fairShare: res(0, 1000) }))).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(dominantShare(mkShare({ allocated: res(0), fairShare: res(0, 1000) }), res(1))).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('isOverFairShare', () => {
  const s = mkShare({ allocated: res(3000, 5000), fairShare: res(4000, 4000) });
  it('is true when the request would push an asked resource past fair share', () => {
    expect(isOverFairShare(s, res(2000))).toBe(true);
    expect(isOverFairShare(s, res(1000))).toBe(false);
  });
  it('ignores resources the request does not ask for', () => {
    // CPU is already over, but a GPU-only request is not judged by it.
    expect(isOverFairShare(s, res(500))).toBe(false);
    expect(isOverFairShare(s, res(500, 1))).toBe(true);
  });
  it('checks every resource when no request is given', () => {
    expect(isOverFairShare(s)).toBe(true);
    expect(isOverFairShare(mkShare({ allocated: res(4000), fairShare: res(4000) }))).toBe(false);
  });
});

describe('isWithinDeserved', () => {
  it('always checks GPU, and CPU or memory only where a quota is set', () => {
    const s = mkShare({ allocated: res(1000, 9000), deserved: res(2000) });
    expect(isWithinDeserved(s)).toBe(true);
    expect(isWithinDeserved(s, res(1000))).toBe(true);
    expect(isWithinDeserved(s, res(1001))).toBe(false);
    expect(isWithinDeserved({ ...s, deserved: res(2000, 8000) })).toBe(false);
    expect(isWithinDeserved(mkShare({ allocated: res(0) }), res(1))).toBe(false);
  });
});

describe('compareQueues', () => {
  it('puts a queue below its fair share before one at or above it, whatever their age', () => {
    const w = world([
      ['old', null, mkShare({ allocated: res(1200), fairShare: res(1000) })],
      ['young', null, mkShare({ allocated: res(900), fairShare: res(1000) })],
    ]);
    expect(order(['old', 'young'], w)).toEqual(['young', 'old']);
  });

  it('then puts the one whose next allocation stays within deserved first, even with a higher share', () => {
    const w = world([
      ['overDeserved', null, mkShare({ allocated: res(1000), deserved: res(0), fairShare: res(4000) })],
      ['withinDeserved', null, mkShare({ allocated: res(3000), deserved: res(4000), fairShare: res(4000) })],
    ]);
    expect(order(['overDeserved', 'withinDeserved'], w, new Map([['withinDeserved', res(1000)]]))).toEqual([
      'withinDeserved',
      'overDeserved',
    ]);
    // A next allocation that would cross deserved loses that advantage: back to the lower share.
    expect(order(['overDeserved', 'withinDeserved'], w, new Map([['withinDeserved', res(1001)]]))).toEqual([
      'overDeserved',
      'withinDeserved',
    ]);
  });

  it('applies the within-deserved rule among queues already at their fair share too', () => {
    const w = world([
      ['older', null, mkShare({ allocated: res(1500), deserved: res(1000), fairShare: res(1000) })],
      // Over its CPU share (dominant 2), but its GPU quota has room: unset CPU quota does not count.
      [
        'cpuHeavy',
        null,
        mkShare({ allocated: res(2000, 2000), deserved: res(4000), fairShare: res(4000, 1000) }),
      ],
    ]);
    expect(order(['older', 'cpuHeavy'], w)).toEqual(['cpuHeavy', 'older']);
  });

  it('then puts the lowest dominant share first, then the oldest', () => {
    const w = world([
      ['a', null, mkShare({ allocated: res(2000), deserved: res(4000), fairShare: res(4000) })],
      ['b', null, mkShare({ allocated: res(1000), deserved: res(4000), fairShare: res(4000) })],
      ['c', null, mkShare({ allocated: res(2000), deserved: res(4000), fairShare: res(4000) })],
    ]);
    expect(order(['c', 'a', 'b'], w)).toEqual(['b', 'a', 'c']);
  });

  it('ranks departments first, then projects inside one department', () => {
    const w = world([
      ['d1', null, mkShare({ allocated: res(3600), deserved: res(4000), fairShare: res(4000) })],
      ['d2', null, mkShare({ allocated: res(800), deserved: res(4000), fairShare: res(4000) })],
      // p1 alone looks hungrier than p2, but its department is fuller.
      ['p1', 'd1', mkShare({ allocated: res(100), deserved: res(2000), fairShare: res(2000) })],
      ['p2', 'd2', mkShare({ allocated: res(800), deserved: res(1000), fairShare: res(1000) })],
      ['p3', 'd1', mkShare({ allocated: res(1500), deserved: res(2000), fairShare: res(2000) })],
      ['p4', 'd2', mkShare({ allocated: res(0), deserved: res(3000), fairShare: res(3000) })],
    ]);
    expect(order(['p1', 'p2', 'p3', 'p4'], w)).toEqual(['p4', 'p2', 'p1', 'p3']);
  });

  it('puts queues it knows nothing about last, by name', () => {
    const w = world([['known', null, mkShare({ allocated: res(9000), fairShare: res(1000) })]]);
    expect(order(['zeta', 'known', 'alpha'], w)).toEqual(['known', 'alpha', 'zeta']);
  });

  it('orders projects from computed fair shares: the starved project before the satisfied one', () => {
    const queues: QueueSnap[] = [
      { name: 'd', parent: null, createdOrder: 0, quotas: {} },
      { name: 'busy', parent: 'd', createdOrder: 1, quotas: {} },
      { name: 'starved', parent: 'd', createdOrder: 2, quotas: {} },
    ];
    const shares = computeFairShares({
      pools: ['p'],
      capacity: new Map([['p', res(8000)]]),
      queues,
      allocated: new Map([['busy', new Map([['p', res(8000)]])]]),
      pending: new Map([['starved', new Map([['p', res(4000)]])]]),
    });
    const byName = new Map(queues.map((q) => [q.name, q]));
    expect(shares.get('busy')?.get('p')?.fairShare.gpuMilli).toBe(4000);
    expect(['busy', 'starved'].sort((a, b) => compareQueues(a, b, 'p', shares, byName))).toEqual([
      'starved',
      'busy',
    ]);
  });

  it('is a consistent total order: antisymmetric and transitive on any shares', () => {
    const r = fc.record({
      gpuMilli: fc.integer({ min: 0, max: 4 }).map((x) => x * 1000),
      cpuMillis: fc.integer({ min: 0, max: 2 }).map((x) => x * 1000),
      memoryMiB: fc.constant(0),
    });
    const entry = fc.record({
      allocated: r,
      deserved: r,
      fairShare: r,
      parent: fc.constantFrom(null, 'd0', 'd1', 'missing'),
      next: fc.option(r, { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 3, maxLength: 8 }),
        fc.array(entry, { minLength: 2, maxLength: 2 }),
        (projects, depts) => {
          const w = world([
            ...depts.map((d, i): [string, string | null, QueueShare] => [`d${i}`, null, mkShare(d)]),
            ...projects.map((p, i): [string, string | null, QueueShare] => [`p${i}`, p.parent, mkShare(p)]),
          ]);
          const next = new Map<string, Resources>();
          projects.forEach((p, i) => {
            if (p.next) next.set(`p${i}`, p.next);
          });
          const names = projects.map((_, i) => `p${i}`);
          const cmp = (a: string, b: string): number => compareQueues(a, b, 'p', w.shares, w.queues, next);
          for (const a of names) {
            for (const b of names) {
              expect(Math.sign(cmp(a, b))).toBe(a === b ? 0 : -Math.sign(cmp(b, a)));
              for (const c of names) if (cmp(a, b) < 0 && cmp(b, c) < 0) expect(cmp(a, c)).toBeLessThan(0);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('compareQueuesAcrossPools', () => {
  const r = fc.record({
    gpuMilli: fc.integer({ min: 0, max: 4 }).map((x) => x * 1000),
    cpuMillis: fc.integer({ min: 0, max: 2 }).map((x) => x * 1000),
    memoryMiB: fc.constant(0),
  });
  /** A share in a pool, or none (the queue is unknown there). */
  const poolShare = fc.option(fc.record({ allocated: r, deserved: r, fairShare: r }), {
    nil: undefined,
    freq: 5,
  });
  const POOLS = ['p', 'q', 'r'];
  const queue = fc.record({
    parent: fc.constantFrom(null, 'd0', 'd1', 'missing'),
    pools: fc.tuple(poolShare, poolShare, poolShare),
    next: fc.option(r, { nil: undefined }),
  });

  /** Queues d0, d1 (departments) and p0.. (projects), each with a share in some of the pools. */
  function multiPoolWorld(
    depts: readonly { pools: readonly (QueueShare | undefined)[] }[],
    projects: readonly {
      parent: string | null;
      pools: readonly (QueueShare | undefined)[];
      next: Resources | undefined;
    }[],
  ) {
    const queues = new Map<string, QueueSnap>();
    const shares = new Map<string, Map<string, QueueShare>>();
    const next = new Map<string, Resources>();
    const add = (
      name: string,
      parent: string | null,
      pools: readonly (QueueShare | undefined)[],
      i: number,
    ) => {
      queues.set(name, { name, parent, createdOrder: i, quotas: {} });
      const byPool = new Map<string, QueueShare>();
      pools.forEach((sh, k) => {
        if (sh !== undefined) byPool.set(POOLS[k] as string, sh);
      });
      shares.set(name, byPool);
    };
    depts.forEach((d, i) => {
      add(`d${i}`, null, d.pools, i);
    });
    projects.forEach((p, i) => {
      add(`p${i}`, p.parent, p.pools, depts.length + i);
      if (p.next) next.set(`p${i}`, p.next);
    });
    return { queues, shares, next };
  }

  it('is a consistent total order over projects that prefer different pools', () => {
    fc.assert(
      fc.property(
        fc.array(queue, { minLength: 2, maxLength: 6 }),
        fc.array(queue, { minLength: 2, maxLength: 2 }),
        (projects, depts) => {
          const shareOf = (x: (typeof projects)[number]['pools'][number]) =>
            x === undefined ? undefined : mkShare(x);
          const w = multiPoolWorld(
            depts.map((d) => ({ pools: d.pools.map(shareOf) })),
            projects.map((p) => ({ ...p, pools: p.pools.map(shareOf) })),
          );
          // Every project in every pool, plus one no one knows.
          const candidates = [...projects.map((_, i) => `p${i}`), 'stranger'].flatMap((name) =>
            POOLS.map((pool) => ({ name, pool })),
          );
          const cmp = (a: (typeof candidates)[number], b: (typeof candidates)[number]): number =>
            compareQueuesAcrossPools(a.name, a.pool, b.name, b.pool, w.shares, w.queues, w.next);
          // Signs of every pair, computed once; the checks below read the table.
          const sign = candidates.map((a) => candidates.map((b) => Math.sign(cmp(a, b))));
          const n = candidates.length;
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              // Antisymmetric, and zero only for the very same candidate: a total order.
              expect(sign[i]?.[j]).toBe(i === j ? 0 : -(sign[j]?.[i] ?? 0));
              if (i !== j) expect(sign[i]?.[j]).not.toBe(0);
              if (sign[i]?.[j] !== -1) continue;
              for (let k = 0; k < n; k++) if (sign[j]?.[k] === -1) expect(sign[i]?.[k]).toBe(-1);
            }
          }
          // In one pool it is compareQueues.
          for (const a of candidates)
            for (const b of candidates)
              if (a.pool === b.pool)
                expect(cmp(a, b)).toBe(compareQueues(a.name, b.name, a.pool, w.shares, w.queues, w.next));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('judges each side in its own pool, whichever side asks', () => {
    const full = mkShare({ allocated: res(4000), deserved: res(2000), fairShare: res(2000) });
    const empty = mkShare({ allocated: res(0), deserved: res(2000), fairShare: res(2000) });
    const queues = new Map<string, QueueSnap>([
      ['old', { name: 'old', parent: null, createdOrder: 0, quotas: {} }],
      ['young', { name: 'young', parent: null, createdOrder: 1, quotas: {} }],
    ]);
    // `old` is busy in pool a and starved in b; `young` the other way round.
    const shares = new Map([
      [
        'old',
        new Map([
          ['a', full],
          ['b', empty],
        ]),
      ],
      [
        'young',
        new Map([
          ['a', empty],
          ['b', full],
        ]),
      ],
    ]);
    // Judged in the asker's pool, each would come first when it asks: the asymmetry this removes.
    expect(compareQueues('young', 'old', 'a', shares, queues)).toBeLessThan(0);
    expect(compareQueues('old', 'young', 'b', shares, queues)).toBeLessThan(0);
    // Each side in its own pool, whichever asks: starved `young` in a before busy `old` in a, and of
    // two starved ones (`young` in a, `old` in b) the older.
    expect(compareQueuesAcrossPools('old', 'a', 'young', 'a', shares, queues)).toBeGreaterThan(0);
    expect(compareQueuesAcrossPools('young', 'a', 'old', 'b', shares, queues)).toBeGreaterThan(0);
    expect(compareQueuesAcrossPools('old', 'b', 'young', 'a', shares, queues)).toBeLessThan(0);
    // Both busy, each in its pool: the older first, whichever side asks.
    expect(compareQueuesAcrossPools('old', 'a', 'young', 'b', shares, queues)).toBeLessThan(0);
    expect(compareQueuesAcrossPools('young', 'b', 'old', 'a', shares, queues)).toBeGreaterThan(0);
  });
});
