import { describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import type { Bind, Plan } from '../../../allocator/scheduler/plan.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { openDb } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { deleteNode } from '../../../allocator/store/nodes.ts';
import { listAssignments, listPods, movePod } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import {
  changePhase,
  getWorkload,
  purgeWorkload,
  submitWorkload,
} from '../../../allocator/store/workloads.ts';
import { describeBackends, must, openTemp, smallOrg, T0, tempDir, training } from './helpers.ts';

const grant = (node: string, i: number) => ({
  uuid: `GPU-${node}-${i}`,
  gpuMilli: 1000,
  memoryMiB: 81_920,
  memoryLimitMiB: 81_920,
});

function bind(group: string, pod: string, node: string, gpu = 0): Bind {
  return { group, pod, node, grants: [grant(node, gpu)], action: 'allocate' };
}

function plan(p: Partial<Plan>): Plan {
  return { binds: [], evictions: [], phaseChanges: [], pending: [], ...p };
}

describeBackends('applyPlan', () => {
  it('binds pods with quota accounting, epoch 1, next ordinal, and moves Pending -> Initializing', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('t'), T0, { id: 'w1' }));
    const out = applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n1')] }), T0 + 10);
    expect(out.starts).toEqual([
      { workload: 'w1', pod: 't-0', node: 'n1', epoch: 1, grants: [grant('n1', 0)] },
    ]);
    expect(out.phaseChanges).toEqual([
      { workload: 'w1', from: 'Pending', to: 'Initializing', reason: 'Scheduled' },
    ]);
    expect(listPods(db)).toEqual([
      expect.objectContaining({
        name: 't-0',
        node: 'n1',
        phase: 'Bound',
        gpuMilli: 1000,
        boundMs: T0 + 10,
        epoch: 1,
      }),
    ]);
    expect(getWorkload(db, 'w1')).toMatchObject({ phase: 'Initializing', nextPodOrdinal: 1 });
  });

  it('is atomic: a constraint violation mid-plan rolls back every earlier write', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('a'), T0, { id: 'w1' }));
    must(submitWorkload(db, training('b'), T0, { id: 'w2' }));
    const events = listEvents(db);
    // The second bind names a node that does not exist: refused after the first was written.
    const bad = plan({ binds: [bind('w1', 'a-0', 'n1'), bind('w2', 'b-0', 'ghost')] });
    expect(() => applyPlan(db, bad, T0 + 10)).toThrow(/ghost, which is gone/);
    expect(listPods(db)).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM assignments').get()).toEqual({ n: 0 });
    expect(getWorkload(db, 'w1')).toMatchObject({ phase: 'Pending', nextPodOrdinal: 0 });
    expect(listEvents(db)).toEqual(events);
  });

  it('is atomic: an illegal phase change refuses the whole plan', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('a'), T0, { id: 'w1' }));
    const bad = plan({
      binds: [bind('w1', 'a-0', 'n1')],
      phaseChanges: [{ group: 'w1', to: 'Pending', reason: 'x' }],
    });
    expect(() => applyPlan(db, bad, T0 + 10)).toThrow(/Pending -> Pending/);
    expect(listPods(db)).toEqual([]);
    expect(getWorkload(db, 'w1')?.phase).toBe('Pending');
  });

  it('evicts to Stopping keeping the assignment, and a reassignment of the same pod gets a higher epoch', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('t'), T0, { id: 'w1' }));
    applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n1')] }), T0 + 10);
    movePod(db, 'w1', 't-0', 'Starting', 'agent accepted');
    movePod(db, 'w1', 't-0', 'Running', 'agent started');

    const evict = plan({
      evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'reclaim', reason: 'reclaimed by nlp' }],
      phaseChanges: [{ group: 'w1', to: 'Pending', reason: 'reclaimed by nlp' }],
    });
    const out = applyPlan(db, evict, T0 + 20);
    expect(out.stops).toEqual([
      { workload: 'w1', pod: 't-0', node: 'n1', epoch: 1, reason: 'reclaimed by nlp' },
    ]);
    expect(listAssignments(db, 'w1', 't-0').map((a) => [a.node, a.epoch, a.state])).toEqual([
      ['n1', 1, 'stopping'],
    ]);
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      from: 'Initializing',
      to: 'Pending',
      reason: 'Reclaimed',
      message: 'reclaimed by nlp',
    });
    // A stopping pod no longer belongs to its group in the scheduler's eyes.
    expect(buildSnapshot(db, T0 + 20).groups[0]?.pods).toEqual([]);

    movePod(db, 'w1', 't-0', 'Stopped', 'agent stopped');
    const again = applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n2')] }), T0 + 30);
    expect(again.starts[0]?.epoch).toBe(2);
    // The node is lost: the pod queues again under its name and its next placement is epoch 3.
    movePod(db, 'w1', 't-0', 'Pending', 'node lost');
    expect(applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n3')] }), T0 + 40).starts[0]?.epoch).toBe(3);
    expect(listAssignments(db, 'w1', 't-0').map((a) => [a.node, a.epoch, a.state])).toEqual([
      ['n1', 1, 'ended'],
      ['n2', 2, 'ended'],
      ['n3', 3, 'active'],
    ]);
  });

  it('refuses to evict a pod that is not where the plan says', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('t'), T0, { id: 'w1' }));
    applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n1')] }), T0 + 10);
    const wrong = plan({
      evictions: [{ group: 'w1', pod: 't-0', node: 'n2', action: 'reclaim', reason: 'r' }],
    });
    expect(() => applyPlan(db, wrong, T0 + 20)).toThrow(/does not run/);
    expect(listPods(db)[0]?.phase).toBe('Bound');
  });

  it('tracks since when a gang holds fewer than minReplicas pods', () => {
    const db = openTemp();
    smallOrg(db);
    const spec = { name: 'ddp', project: 'nlp', type: 'distributed', command: ['x'], replicas: 2 };
    must(submitWorkload(db, { ...spec, resources: { gpuDevices: 1 } }, T0, { id: 'w1' }));
    applyPlan(db, plan({ binds: [bind('w1', 'ddp-0', 'n1'), bind('w1', 'ddp-1', 'n2')] }), T0 + 10);
    expect(getWorkload(db, 'w1')?.belowMinSinceMs).toBeNull();
    const one = plan({
      evictions: [{ group: 'w1', pod: 'ddp-1', node: 'n2', action: 'preempt', reason: 'r' }],
    });
    applyPlan(db, one, T0 + 20);
    expect(getWorkload(db, 'w1')?.belowMinSinceMs).toBe(T0 + 20);
    expect(buildSnapshot(db, T0 + 30).groups[0]).toMatchObject({
      belowMinSinceMs: T0 + 20,
      nextPodOrdinal: 2,
    });
  });

  it('keeps nodes and workloads that still hold pods from being deleted', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('t'), T0, { id: 'w1' }));
    applyPlan(db, plan({ binds: [bind('w1', 't-0', 'n1')] }), T0 + 10);
    const node = deleteNode(db, 'n1');
    expect(node.ok || node.error.code).toBe('TESSERA_E_CONFLICT');
    must(changePhase(db, 'w1', 'Deleting', 'UserDelete', T0 + 20));
    const early = purgeWorkload(db, 'w1');
    expect(early.ok || early.error.code).toBe('TESSERA_E_CONFLICT');
    movePod(db, 'w1', 't-0', 'Stopped', 'never started');
    must(purgeWorkload(db, 'w1'));
    expect(listPods(db)).toEqual([]);
    must(deleteNode(db, 'n1'));
  });
});

describe('a full round through the scheduler', () => {
  it('snapshot -> runCycle -> applyPlan binds pods, later cycles change nothing, and it all survives a reopen', () => {
    const dir = tempDir();
    const db = openTemp(dir);
    smallOrg(db);
    must(submitWorkload(db, training('resnet', 'vision', 2), T0 + 1, { id: 'w1' }));
    must(
      submitWorkload(
        db,
        {
          name: 'ddp',
          project: 'nlp',
          type: 'distributed',
          command: ['torchrun'],
          replicas: 3,
          resources: { gpuDevices: 1 },
        },
        T0 + 2,
        { id: 'w2' },
      ),
    );
    must(
      submitWorkload(
        db,
        { ...training('dgx-only', 'vision'), nodePools: ['a100'], resources: { gpuFraction: 0.5 } },
        T0 + 3,
        { id: 'w3' },
      ),
    );

    const first = runCycle(buildSnapshot(db, T0 + 100));
    expect(first.binds).toHaveLength(1 + 3 + 1);
    const applied = applyPlan(db, first, T0 + 100);
    expect(applied.starts.every((s) => s.epoch === 1)).toBe(true);

    const after = buildSnapshot(db, T0 + 200);
    const pods = Object.fromEntries(after.groups.map((g) => [g.id, g.pods.map((p) => p.node)]));
    expect(pods.w1).toHaveLength(1);
    expect(pods.w2).toHaveLength(3);
    expect(pods.w3).toEqual(['n3']);
    expect(after.groups.every((g) => g.nextPodOrdinal === g.pods.length)).toBe(true);
    expect(listPods(db).reduce((s, p) => s + p.gpuMilli, 0)).toBe(2000 + 3000 + 500);
    for (const id of ['w1', 'w2', 'w3']) expect(getWorkload(db, id)?.phase).toBe('Initializing');

    // No ping-pong: the next cycles over the stored state decide nothing.
    for (let c = 1; c <= 3; c++) {
      const p = runCycle(buildSnapshot(db, T0 + 100 + c * 1000));
      expect(p.binds).toEqual([]);
      expect(p.evictions).toEqual([]);
      applyPlan(db, p, T0 + 100 + c * 1000);
    }

    const events = listEvents(db);
    db.close();
    const reopened = openDb({ dataDir: dir });
    try {
      expect(buildSnapshot(reopened, T0 + 200)).toEqual(after);
      expect(listEvents(reopened)).toEqual(events);
      expect(listPods(reopened).map((p) => p.epoch)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      reopened.close();
    }
  });
});
