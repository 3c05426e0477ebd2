import { describe, expect, it } from 'vitest';
import { applyPodReport, nodeLost } from '../../../allocator/lifecycle/reports.ts';
import { createAbsenceCheck } from '../../../allocator/service/absence.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { getWorkload } from '../../../allocator/store/workloads.ts';
import type { Status, WirePodStatus } from '../../../common/wire.ts';
import { openTemp, podOf, report, smallOrg, submitBound, T0, training } from '../lifecycle/helpers.ts';

const T = T0 + 1000;
const GRACE = 10_000;

function status(states: WirePodStatus[]): Status {
  return { seq: 1, atMs: T, gpuSamples: [], podStates: states };
}

/** A store with training `w1` whose pod t-0 runs on n1. */
function running(): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', training('t'), [['n1', 0]]);
  const pod = podOf(db, 'w1', 't-0');
  applyPodReport(db, report(pod, 'ready'), pod, T);
  return db;
}

describe('absence check', () => {
  it('fails a Running pod its node stopped listing, after the grace and not before (reason Lost)', () => {
    const db = running();
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: GRACE, checkEveryMs: 0 });
    expect(a.onStatus('n1', status([]), T).changed).toBe(false);
    expect(a.onStatus('n1', status([]), T + GRACE - 1).changed).toBe(false);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
    expect(a.onStatus('n1', status([]), T + GRACE).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Failed');
    expect(getWorkload(db, 'w1')?.phase).toBe('Failed');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({ to: 'Failed', reason: 'PodFailed' });
  });

  it('forgets the absence once the node lists the pod again', () => {
    const db = running();
    const pod = podOf(db, 'w1', 't-0');
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: GRACE, checkEveryMs: 0 });
    a.onStatus('n1', status([]), T);
    a.onStatus('n1', status([report(pod, 'ready')]), T + 5000);
    expect(a.onStatus('n1', status([]), T + GRACE + 1).changed).toBe(false);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
  });

  it('fails an Unknown pod its node came back without (it rejoined with an empty data dir)', () => {
    const db = running();
    nodeLost(db, 'n1', T);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Unknown');
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: GRACE, checkEveryMs: 0 });
    a.onStatus('n1', status([]), T + 100);
    expect(a.onStatus('n1', status([]), T + 100 + GRACE).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Failed');
  });

  it('leaves Bound pods alone (their StartPod may be on its way) and other nodes out', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w1', training('t'), [['n1', 0]]);
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: GRACE, checkEveryMs: 0 });
    a.onStatus('n1', status([]), T);
    expect(a.onStatus('n1', status([]), T + 10 * GRACE).changed).toBe(false);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Bound');
  });

  it('compares a node at most once per interval', () => {
    const db = running();
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: 0, checkEveryMs: 2000 });
    a.onStatus('n1', status([report(podOf(db, 'w1', 't-0'), 'ready')]), T);
    expect(a.onStatus('n1', status([]), T + 1999).changed).toBe(false);
    expect(a.onStatus('n1', status([]), T + 2000).changed).toBe(true);
  });

  it('reads the pods of every node in one query per interval, and a pod again before failing it', () => {
    const db = running();
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: 0, checkEveryMs: 20_000 });
    // n2's Status loads the list while t-0 still runs on n1.
    a.onStatus('n2', status([]), T);
    const pod = podOf(db, 'w1', 't-0');
    applyPodReport(db, report(pod, 'exited', { exitCode: 0 }), pod, T + 1);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Succeeded');
    // n1's first check reads the list of T, which still has t-0 running: read again, it ended well.
    expect(a.onStatus('n1', status([]), T + 2).changed).toBe(false);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Succeeded');
  });

  it('fails a pod missing from a list read before its node was checked', () => {
    const db = running();
    const a = createAbsenceCheck(db, { heartbeatMs: 500, graceMs: 0, checkEveryMs: 20_000 });
    a.onStatus('n2', status([]), T);
    expect(a.onStatus('n1', status([]), T + 2).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Failed');
  });
});
