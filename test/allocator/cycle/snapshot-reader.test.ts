/**
 * The incremental snapshot reader against a full build: after any sequence of the writes the
 * allocator makes (submits, plan commits, pod moves, node joins, cordons, losses, label and pool
 * edits, workload stops), a reader that kept its caches across all of them reads exactly what a
 * fresh build reads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { markLostNodes, setAdminLabels, setCordoned, upsertNode } from '../../../allocator/store/nodes.ts';
import { putPool } from '../../../allocator/store/org.ts';
import { listPods, movePod } from '../../../allocator/store/pods.ts';
import { buildSnapshot, createSnapshotReader } from '../../../allocator/store/snapshot.ts';
import { changePhase, listWorkloads, submitWorkload } from '../../../allocator/store/workloads.ts';
import { gpus, must, openTemp, smallOrg, T0 } from '../store/helpers.ts';

type Step =
  | { kind: 'submit'; gpus: number; replicas: number; project: 'vision' | 'nlp' }
  | { kind: 'cycle' }
  | { kind: 'pod'; pick: number; to: 'Starting' | 'Running' | 'Succeeded' | 'Failed' | 'Stopping' }
  | { kind: 'join'; node: 'n1' | 'n2' | 'n4'; count: number }
  | { kind: 'cordon'; node: 'n1' | 'n2' | 'n3'; on: boolean }
  | { kind: 'lose' }
  | { kind: 'label'; node: 'n1' | 'n2' | 'n3'; value: 'A100' | 'H100' | null }
  | { kind: 'pool'; selector: 'A100' | 'H100' }
  | { kind: 'stop'; pick: number };

const node = fc.constantFrom('n1' as const, 'n2' as const, 'n3' as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('submit' as const),
    gpus: fc.integer({ min: 1, max: 3 }),
    replicas: fc.integer({ min: 1, max: 3 }),
    project: fc.constantFrom('vision' as const, 'nlp' as const),
  }),
  fc.constant({ kind: 'cycle' as const }),
  fc.record({
    kind: fc.constant('pod' as const),
    pick: fc.nat(),
    to: fc.constantFrom(
      'Starting' as const,
      'Running' as const,
      'Succeeded' as const,
      'Failed' as const,
      'Stopping' as const,
    ),
  }),
  fc.record({
    kind: fc.constant('join' as const),
    node: fc.constantFrom('n1' as const, 'n2' as const, 'n4' as const),
    count: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({ kind: fc.constant('cordon' as const), node, on: fc.boolean() }),
  fc.constant({ kind: 'lose' as const }),
  fc.record({
    kind: fc.constant('label' as const),
    node,
    value: fc.constantFrom('A100' as const, 'H100' as const, null),
  }),
  fc.record({
    kind: fc.constant('pool' as const),
    selector: fc.constantFrom('A100' as const, 'H100' as const),
  }),
  fc.record({ kind: fc.constant('stop' as const), pick: fc.nat() }),
);

/** Applies one step at `at`; steps the store refuses (an illegal move) change nothing. */
function apply(db: Db, s: Step, at: number, n: number): void {
  switch (s.kind) {
    case 'submit':
      must(
        submitWorkload(
          db,
          {
            name: `w${n}`,
            project: s.project,
            type: s.replicas > 1 ? 'distributed' : 'training',
            command: ['sleep', '1'],
            replicas: s.replicas,
            resources: { gpuDevices: s.gpus },
          },
          at,
        ),
      );
      return;
    case 'cycle':
      applyPlan(db, runCycle(buildSnapshot(db, at)), at);
      return;
    case 'pod': {
      const pods = listPods(db);
      const p = pods[s.pick % Math.max(1, pods.length)];
      if (p === undefined) return;
      try {
        movePod(db, p.workload, p.name, s.to, 'test');
      } catch {
        // Not a legal move from its phase: nothing written.
      }
      return;
    }
    case 'join':
      upsertNode(
        db,
        {
          name: s.node,
          labels: { 'gpu.model': 'H100' },
          gpus: gpus(s.node, s.count),
          cpuMillis: 64_000,
          memoryMiB: 512_000,
        },
        at,
      );
      return;
    case 'cordon':
      setCordoned(db, s.node, s.on);
      return;
    case 'lose':
      // Every node not heard from since T0 + 50 (none is touched after joining).
      markLostNodes(db, at, at - T0 - 50);
      return;
    case 'label':
      setAdminLabels(db, s.node, { 'gpu.model': s.value });
      return;
    case 'pool':
      putPool(db, { name: 'a100', selector: { 'gpu.model': s.selector }, placementGpu: 'spread' }, at);
      return;
    case 'stop': {
      const ws = listWorkloads(db, { phases: ['Pending', 'Initializing', 'Running', 'Degraded'] });
      const w = ws[s.pick % Math.max(1, ws.length)];
      if (w !== undefined) changePhase(db, w.id, 'Stopped', 'StoppedByUser', at);
      return;
    }
  }
}

describe('createSnapshotReader', () => {
  it('after any sequence of changes, the incremental snapshot equals a full rebuild', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
        const db = openTemp();
        smallOrg(db);
        const reader = createSnapshotReader();
        let at = T0 + 100;
        steps.forEach((s, i) => {
          at += 10;
          apply(db, s, at, i);
          expect(reader.read(db, at)).toStrictEqual(buildSnapshot(db, at));
        });
        db.close();
      }),
      { numRuns: 40 },
    );
  });

  it('reuses what did not change: nothing is parsed again when nothing was written', () => {
    const db = openTemp();
    smallOrg(db);
    must(
      submitWorkload(
        db,
        { name: 'a', project: 'vision', type: 'training', command: ['x'], resources: { gpuDevices: 1 } },
        T0 + 5,
      ),
    );
    const reader = createSnapshotReader();
    applyPlan(db, runCycle(reader.read(db, T0 + 10)), T0 + 10);
    expect(reader.lastStats()).toEqual({ nodesParsed: 3, specsParsed: 1, grantsParsed: 0 });
    reader.read(db, T0 + 20);
    expect(reader.lastStats()).toEqual({ nodesParsed: 0, specsParsed: 0, grantsParsed: 1 });
    reader.read(db, T0 + 30);
    expect(reader.lastStats()).toEqual({ nodesParsed: 0, specsParsed: 0, grantsParsed: 0 });
    setCordoned(db, 'n2', true);
    reader.read(db, T0 + 40);
    expect(reader.lastStats()).toEqual({ nodesParsed: 1, specsParsed: 0, grantsParsed: 0 });
  });
});
