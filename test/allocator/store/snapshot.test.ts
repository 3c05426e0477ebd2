import { describe, expect, it } from 'vitest';
import { markLostNodes, setCordoned, touchNodes } from '../../../allocator/store/nodes.ts';
import { putPool } from '../../../allocator/store/org.ts';
import { buildSnapshot, finishingRange, poolOf } from '../../../allocator/store/snapshot.ts';
import { changePhase, submitWorkload } from '../../../allocator/store/workloads.ts';
import { describeBackends, must, openTemp, smallOrg, T0, training } from './helpers.ts';

describeBackends('buildSnapshot', () => {
  it('resolves nodes to pools by selector, unmatched to default, and reads node type', () => {
    const db = openTemp();
    smallOrg(db);
    const s = buildSnapshot(db, T0 + 100);
    expect(s.nowMs).toBe(T0 + 100);
    expect(s.nodes.map((n) => [n.name, n.pool, n.nodeType, n.schedulable])).toEqual([
      ['n1', 'default', '', true],
      ['n2', 'default', '', true],
      ['n3', 'a100', 'dgx', true],
    ]);
    expect(s.pools).toEqual([
      { name: 'a100', placement: 'spread' },
      { name: 'default', placement: 'binpack' },
    ]);
    expect(s.nodes[2]?.gpus[0]).toMatchObject({ model: 'A100', memoryMiB: 40_960, healthy: true });
  });

  it('the oldest matching pool claims a node; a stored default pool never claims by selector', () => {
    const db = openTemp();
    smallOrg(db);
    putPool(db, { name: 'dgx', selector: { 'node.type': 'dgx' }, placementGpu: 'binpack' }, T0 + 5);
    putPool(db, { name: 'default', selector: {}, placementGpu: 'spread' }, T0 + 6);
    const s = buildSnapshot(db, T0);
    expect(s.nodes.find((n) => n.name === 'n3')?.pool).toBe('a100');
    expect(s.pools.find((p) => p.name === 'default')?.placement).toBe('spread');
    expect(poolOf([], { any: 'x' })).toBe('default');
  });

  it('makes cordoned and lost nodes unschedulable', () => {
    const db = openTemp();
    smallOrg(db);
    must(setCordoned(db, 'n1', true));
    touchNodes(
      db,
      new Map([
        ['n1', T0 + 50_000],
        ['n3', T0 + 50_000],
      ]),
    );
    markLostNodes(db, T0 + 50_000, 40_000);
    const s = buildSnapshot(db, T0 + 50_000);
    expect(s.nodes.map((n) => [n.name, n.schedulable])).toEqual([
      ['n1', false],
      ['n2', false],
      ['n3', true],
    ]);
  });

  it('builds queues with quotas in creation order', () => {
    const db = openTemp();
    smallOrg(db);
    const s = buildSnapshot(db, T0);
    expect(s.queues.map((q) => [q.name, q.parent, q.createdOrder])).toEqual([
      ['research', null, 0],
      ['vision', 'research', 1],
      ['nlp', 'research', 2],
    ]);
    expect(s.queues[2]?.quotas.default).toEqual({
      deserved: { gpuMilli: 2000, cpuMillis: 0, memoryMiB: 0 },
      overQuotaWeight: 2,
      limit: { gpuMilli: -1, cpuMillis: -1, memoryMiB: -1 },
    });
    expect(s.queues[0]?.quotas).toEqual({});
  });

  it('turns workloads that hold or want pods into groups, with the spec`s gang bounds', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('t'), T0 + 1, { id: 'w1' }));
    must(
      submitWorkload(
        db,
        {
          name: 'ddp',
          project: 'nlp',
          type: 'distributed',
          command: ['torchrun'],
          replicas: 4,
          minReplicas: 2,
          nodePools: ['a100', 'default'],
          gpuModels: ['A100'],
          resources: { gpuFraction: 0.5 },
        },
        T0 + 2,
        { id: 'w2' },
      ),
    );
    must(submitWorkload(db, training('stopped'), T0 + 3, { id: 'w3' }));
    must(changePhase(db, 'w3', 'Stopped', 'UserStop', T0 + 4));
    const s = buildSnapshot(db, T0 + 10);
    expect(s.groups.map((g) => g.id)).toEqual(['w1', 'w2']);
    expect(s.groups[1]).toMatchObject({
      name: 'ddp',
      queue: 'nlp',
      priority: 50,
      preemptible: true,
      createdAtMs: T0 + 2,
      nodePools: ['a100', 'default'],
      gpuModels: ['A100'],
      minMember: 2,
      maxMember: 4,
      pods: [],
      nextPodOrdinal: 0,
      request: { gpu: { kind: 'fraction', milli: 500 } },
    });
    expect(s.groups[1]).not.toHaveProperty('belowMinSinceMs');
  });
});

describe('finishingRange', () => {
  const range = { minMember: 4, maxMember: 4 };
  it('keeps the range while no pod of the running attempt has finished', () => {
    expect(finishingRange(range, [{ boundAtMs: 10 }, { boundAtMs: 10 }], [])).toEqual(range);
    // Succeeded before the running pods were bound: an earlier attempt, before a gang restart.
    expect(finishingRange(range, [{ boundAtMs: 10 }, { boundAtMs: 10 }], [5, 5])).toEqual(range);
  });

  it('neither grows nor refills a gang two of whose four pods exited 0, and keeps the rest whole', () => {
    expect(finishingRange(range, [{ boundAtMs: 10 }, { boundAtMs: 10 }], [10, 10])).toEqual({
      minMember: 2,
      maxMember: 2,
    });
  });
});
