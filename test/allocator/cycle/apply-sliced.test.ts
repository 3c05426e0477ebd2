/**
 * A plan committed in slices (applyPlanInSlices): the same store as one transaction when nothing
 * else writes; and when something does between slices (a workload stopped, a node lost), only the
 * workloads it touched are left out, whole, and the rest is committed.
 */
import { describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { applyPlan, applyPlanInSlices } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { markLostNodes, touchNodes } from '../../../allocator/store/nodes.ts';
import { listPods } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { changePhase, listWorkloads, submitWorkload } from '../../../allocator/store/workloads.ts';
import { NEVER_PAUSE, type Slicer } from '../../../common/slicer.ts';
import { must, openTemp, smallOrg, T0 } from '../store/helpers.ts';

/** Six one-GPU workloads and a two-pod gang, ids w0..w5 and g. */
function seeded(): Db {
  const db = openTemp();
  smallOrg(db);
  for (let i = 0; i < 6; i++)
    must(
      submitWorkload(
        db,
        { name: `t${i}`, project: 'vision', type: 'training', command: ['x'], resources: { gpuDevices: 1 } },
        T0 + 10 + i,
        { id: `w${i}` },
      ),
    );
  must(
    submitWorkload(
      db,
      {
        name: 'gang',
        project: 'nlp',
        type: 'distributed',
        command: ['x'],
        replicas: 2,
        resources: { gpuDevices: 1 },
      },
      T0 + 20,
      { id: 'g' },
    ),
  );
  return db;
}

/** The rows a commit writes, comparable across two stores. */
function state(db: Db) {
  return {
    pods: listPods(db),
    workloads: listWorkloads(db).map((w) => [w.id, w.phase, w.nextPodOrdinal, w.belowMinSinceMs]),
    events: listEvents(db).map((e) => [e.workload, e.from, e.to, e.reason]),
  };
}

/** Pauses after every workload's part, running `between` at the first pause. */
function everyUnit(between: () => void): Slicer & { pauses: number } {
  const s = {
    pauses: 0,
    due: () => true,
    pause: async () => {
      if (s.pauses++ === 0) between();
    },
  };
  return s;
}

describe('applyPlanInSlices', () => {
  it('writes what applyPlan writes when nothing else writes in between', async () => {
    const a = seeded();
    const b = seeded();
    const plan = runCycle(buildSnapshot(a, T0 + 100));
    expect(plan.binds.length).toBe(8);
    const one = applyPlan(a, plan, T0 + 100);
    const sliced = await applyPlanInSlices(
      b,
      plan,
      T0 + 100,
      everyUnit(() => {}),
    );
    expect(sliced.skipped).toEqual([]);
    expect(sliced.starts).toEqual(one.starts);
    expect(sliced.phaseChanges).toEqual(one.phaseChanges);
    expect(state(b)).toEqual(state(a));
    const c = seeded();
    await applyPlanInSlices(c, plan, T0 + 100, NEVER_PAUSE);
    expect(state(c)).toEqual(state(a));
  });

  it('leaves out, whole, the workloads stopped or placed on a node lost after the plan was made', async () => {
    const db = seeded();
    const plan = runCycle(buildSnapshot(db, T0 + 100));
    const gangNodes = new Set(plan.binds.filter((b) => b.group === 'g').map((b) => b.node));
    const lateStopped = plan.binds.map((b) => b.group).find((g) => g !== 'g' && g !== plan.binds[0]?.group);
    expect(lateStopped).toBeDefined();
    const lost = [...gangNodes][0] as string;
    const slicer = everyUnit(() => {
      must(changePhase(db, lateStopped as string, 'Stopped', 'StoppedByUser', T0 + 101));
      // Every node but the gang's first is heard from; that one misses its lease.
      touchNodes(db, new Map(['n1', 'n2', 'n3'].filter((n) => n !== lost).map((n) => [n, T0 + 101])));
      markLostNodes(db, T0 + 102, 1);
    });
    const out = await applyPlanInSlices(db, plan, T0 + 100, slicer);
    expect(out.skipped.map((s) => s.workload).sort()).toEqual(
      [
        lateStopped as string,
        ...plan.binds.filter((b) => b.node === lost && b.group !== plan.binds[0]?.group).map((b) => b.group),
      ]
        .filter((g, i, all) => all.indexOf(g) === i)
        .sort(),
    );
    const bound = new Set(listPods(db).map((p) => p.workload));
    for (const s of out.skipped) expect(bound.has(s.workload)).toBe(false);
    // The gang is never half placed.
    expect(listPods(db).filter((p) => p.workload === 'g').length % 2).toBe(0);
    expect(out.starts.length).toBe(listPods(db).length);
  });
});
