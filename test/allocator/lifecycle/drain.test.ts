import { describe, expect, it } from 'vitest';
import { drainNode } from '../../../allocator/lifecycle/drain.ts';
import { applyPodReport, confirmAbsent } from '../../../allocator/lifecycle/reports.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { getNode, markLostNodes } from '../../../allocator/store/nodes.ts';
import { getWorkload } from '../../../allocator/store/workloads.ts';
import {
  distributed,
  must,
  openTemp,
  podOf,
  report,
  smallOrg,
  submitBound,
  T0,
  training,
} from './helpers.ts';

const T = T0 + 100;

function ready(db: Db, id: string, names: readonly string[]): void {
  for (const n of names) applyPodReport(db, report(podOf(db, id, n), 'ready'), podOf(db, id, n), T);
}

const phaseOf = (db: Db, id: string) => getWorkload(db, id)?.phase;

/** smallOrg with a preemptible training on n1 and a non-preemptible one (priority class build) on n1. */
function mixed(): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'pre', training('pre'), [['n1', 0]]);
  submitBound(db, 'keep', { ...training('keep'), priorityClass: 'build' }, [['n1', 1]]);
  ready(db, 'pre', ['pre-0']);
  ready(db, 'keep', ['keep-0']);
  return db;
}

describe('drainNode', () => {
  it('cordons the node, evicts preemptible work back to Pending and holds non-preemptible work', () => {
    const db = mixed();
    const r = must(drainNode(db, 'n1', { force: false, nowMs: T }));
    expect(getNode(db, 'n1')?.cordoned).toBe(true);
    expect(r.evicted).toMatchObject([{ workload: 'pre', pod: 'pre-0', requeued: true, project: 'vision' }]);
    expect(r.held).toMatchObject([{ workload: 'keep', pod: 'keep-0', hold: 'non-preemptible' }]);
    expect(r.stopping.map((p) => p.pod)).toEqual(['pre-0']);
    expect(r.drained).toBe(false);
    expect(podOf(db, 'pre', 'pre-0').phase).toBe('Stopping');
    expect(phaseOf(db, 'pre')).toBe('Pending');
    expect(listEvents(db, { workload: 'pre' }).at(-1)).toMatchObject({ to: 'Pending', reason: 'Drained' });
    expect(podOf(db, 'keep', 'keep-0').phase).toBe('Running');
    expect(phaseOf(db, 'keep')).toBe('Running');
  });

  it('is level-triggered: a second call evicts nothing new and reports the pods still stopping', () => {
    const db = mixed();
    must(drainNode(db, 'n1', { force: false, nowMs: T }));
    const again = must(drainNode(db, 'n1', { force: false, nowMs: T + 1 }));
    expect(again.evicted).toEqual([]);
    expect(again.stopping.map((p) => p.pod)).toEqual(['pre-0']);
    // The agent confirms the stop: only the held pod is left.
    confirmAbsent(db, podOf(db, 'pre', 'pre-0'), T + 2);
    const third = must(drainNode(db, 'n1', { force: false, nowMs: T + 3 }));
    expect(third.stopping).toEqual([]);
    expect(third.held.map((p) => p.pod)).toEqual(['keep-0']);
  });

  it('with force, evicts non-preemptible work too and is drained once the stops are confirmed', () => {
    const db = mixed();
    const r = must(drainNode(db, 'n1', { force: true, nowMs: T }));
    expect(r.evicted.map((p) => p.pod).sort()).toEqual(['keep-0', 'pre-0']);
    expect(r.held).toEqual([]);
    for (const [w, p] of [
      ['pre', 'pre-0'],
      ['keep', 'keep-0'],
    ] as const)
      confirmAbsent(db, podOf(db, w, p), T + 1);
    expect(must(drainNode(db, 'n1', { force: true, nowMs: T + 2 })).drained).toBe(true);
  });

  it('waits out a minimum runtime, as preemption does, then evicts', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'm', { ...training('m'), minRuntime: '10m' }, [['n1', 0]], T0 + 10);
    ready(db, 'm', ['m-0']);
    const early = must(drainNode(db, 'n1', { force: false, nowMs: T }));
    expect(early.held).toMatchObject([{ pod: 'm-0', hold: 'min-runtime', until: T0 + 10 + 600_000 }]);
    expect(podOf(db, 'm', 'm-0').phase).toBe('Running');
    const late = must(drainNode(db, 'n1', { force: false, nowMs: T0 + 10 + 600_000 }));
    expect(late.evicted.map((p) => p.pod)).toEqual(['m-0']);
  });

  it('shrinks an elastic workload that keeps its minimum elsewhere instead of requeueing it', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'd', distributed('d', 3, 2), [
      ['n1', 0],
      ['n2', 0],
      ['n2', 1],
    ]);
    ready(db, 'd', ['d-0', 'd-1', 'd-2']);
    const r = must(drainNode(db, 'n1', { force: false, nowMs: T }));
    expect(r.evicted).toMatchObject([{ pod: 'd-0', requeued: false }]);
    expect(podOf(db, 'd', 'd-1').phase).toBe('Running');
    expect(phaseOf(db, 'd')).not.toBe('Pending');
  });

  it('requeues a gang whole when the drain takes it below its minimum', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'g', distributed('g', 2, 2), [
      ['n1', 0],
      ['n2', 0],
    ]);
    ready(db, 'g', ['g-0', 'g-1']);
    const r = must(drainNode(db, 'n1', { force: false, nowMs: T }));
    expect(r.evicted).toMatchObject([{ pod: 'g-0', requeued: true }]);
    expect(podOf(db, 'g', 'g-1').phase).toBe('Stopping');
    expect(phaseOf(db, 'g')).toBe('Pending');
  });

  it('refuses a lost node (no stop reaches it) and an unknown one, naming what to do', () => {
    const db = mixed();
    markLostNodes(db, T + 1_000_000, 1000);
    const lost = drainNode(db, 'n1', { force: true, nowMs: T });
    expect(lost.ok).toBe(false);
    if (!lost.ok) expect(lost.error.message).toContain('tessera node delete n1 --force');
    const none = drainNode(db, 'nx', { force: false, nowMs: T });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('an empty node is drained at once', () => {
    const db = openTemp();
    smallOrg(db);
    expect(must(drainNode(db, 'n2', { force: false, nowMs: T }))).toEqual({
      node: 'n2',
      evicted: [],
      stopping: [],
      held: [],
      drained: true,
    });
  });
});
