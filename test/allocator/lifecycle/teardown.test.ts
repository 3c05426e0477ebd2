import { describe, expect, it } from 'vitest';
import { applyPodReport } from '../../../allocator/lifecycle/reports.ts';
import { runAgain, teardown } from '../../../allocator/lifecycle/teardown.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { listPods } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { changePhase, getWorkload } from '../../../allocator/store/workloads.ts';
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

/** A 2-pod distributed `g` on n1 and n2: ddp-0 Running, ddp-1 still Bound. */
function gang(): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'g', distributed('ddp', 2), [
    ['n1', 0],
    ['n2', 0],
  ]);
  const p = podOf(db, 'g', 'ddp-0');
  applyPodReport(db, report(p, 'ready'), p, T);
  return db;
}

/** Reports every Stopping pod of `id` exited, as its agent would after the StopPod. */
function confirmStops(db: Db, id: string): void {
  for (const p of listPods(db, { workload: id, phases: ['Stopping'] }))
    applyPodReport(db, report(p, 'exited', { signal: 'SIGTERM' }), p, T + 2);
}

describe('teardown', () => {
  it("stops a Stopped workload's live pods and returns their StopPods", () => {
    const db = gang();
    must(changePhase(db, 'g', 'Stopped', 'UserStop', T + 1));
    expect(teardown(db)).toEqual({
      stops: [
        { workload: 'g', pod: 'ddp-0', node: 'n1', epoch: 1, reason: 'stopped by the user' },
        { workload: 'g', pod: 'ddp-1', node: 'n2', epoch: 1, reason: 'stopped by the user' },
      ],
      purged: [],
    });
    expect(listPods(db).map((p) => p.phase)).toEqual(['Stopping', 'Stopping']);
    // Level-triggered, and the dispatcher owns resends: a second pass asks for nothing new.
    expect(teardown(db)).toEqual({ stops: [], purged: [] });
    confirmStops(db, 'g');
    expect(listPods(db).map((p) => p.phase)).toEqual(['Stopped', 'Stopped']);
    expect(getWorkload(db, 'g')?.phase).toBe('Stopped');
  });

  it('leaves workloads in other phases alone', () => {
    const db = gang();
    expect(teardown(db)).toEqual({ stops: [], purged: [] });
    expect(listPods(db).map((p) => p.phase)).toEqual(['Running', 'Bound']);
  });

  it('purges a Deleting workload only once no pod holds resources, keeping its events', () => {
    const db = gang();
    must(changePhase(db, 'g', 'Deleting', 'UserDelete', T + 1));
    const first = teardown(db);
    expect(first.stops.map((s) => [s.pod, s.reason])).toEqual([
      ['ddp-0', 'workload deleted'],
      ['ddp-1', 'workload deleted'],
    ]);
    expect(first.purged).toEqual([]);
    expect(getWorkload(db, 'g')?.phase).toBe('Deleting');

    // One stop confirmed, one still pending: not yet.
    const p0 = podOf(db, 'g', 'ddp-0');
    applyPodReport(db, report(p0, 'exited', { signal: 'SIGTERM' }), p0, T + 2);
    expect(teardown(db)).toEqual({ stops: [], purged: [] });

    confirmStops(db, 'g');
    const events = listEvents(db, { workload: 'g' });
    expect(teardown(db)).toEqual({ stops: [], purged: ['g'] });
    expect(getWorkload(db, 'g')).toBeUndefined();
    expect(listPods(db)).toEqual([]);
    expect(listEvents(db, { workload: 'g' })).toEqual(events);
    expect(events.at(-1)).toMatchObject({ to: 'Deleting', reason: 'UserDelete' });
  });

  it('purges a Deleting workload with no pods at once', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'q', distributed('queued', 2), []);
    must(changePhase(db, 'q', 'Deleting', 'UserDelete', T));
    expect(teardown(db)).toEqual({ stops: [], purged: ['q'] });
  });
});

describe('runAgain', () => {
  it('run right after stop, before any teardown, restarts the workload: its pods stop and it is placed again', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w', training('t'), [['n1', 0]]);
    const pod = podOf(db, 'w', 't-0');
    applyPodReport(db, report(pod, 'ready'), pod, T0 + 20);
    must(changePhase(db, 'w', 'Stopped', 'StoppedByUser', T0 + 30));
    // The regression: the pod still Running and the workload Pending, a gang whole that no cycle places.
    must(runAgain(db, 'w', T0 + 31));
    expect(getWorkload(db, 'w')?.phase).toBe('Pending');
    expect(podOf(db, 'w', 't-0').phase).toBe('Stopping');
    const snap = buildSnapshot(db, T0 + 40);
    expect(snap.groups.find((g) => g.id === 'w')?.pods).toEqual([]);
  });

  it('refuses a workload that is not Stopped and changes nothing', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w', training('t'), [['n1', 0]]);
    const r = runAgain(db, 'w', T0 + 31);
    expect(r.ok).toBe(false);
    expect(podOf(db, 'w', 't-0').phase).toBe('Bound');
  });
});
