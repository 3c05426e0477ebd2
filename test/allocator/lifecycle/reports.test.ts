import { describe, expect, it } from 'vitest';
import {
  applyPodReport,
  confirmAbsent,
  forceDeleteNode,
  nodeLost,
  replaceCutOff,
} from '../../../allocator/lifecycle/reports.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { getNode, markLostNodes } from '../../../allocator/store/nodes.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { getWorkload } from '../../../allocator/store/workloads.ts';
import { DISCONNECT_MARGIN_MS } from '../../../common/disconnect.ts';
import {
  distributed,
  openTemp,
  plan,
  podOf,
  report,
  smallOrg,
  submitBound,
  T0,
  training,
} from './helpers.ts';

const T = T0 + 100;

/** A store with smallOrg and one training `w1` (pod t-0 on n1), Bound and Initializing. */
function oneTraining(): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', training('t'), [['n1', 0]]);
  return db;
}

/** Reports `ready` for every listed pod of `id` so they and the workload run. */
function allReady(db: Db, id: string, names: readonly string[]): void {
  for (const n of names) applyPodReport(db, report(podOf(db, id, n), 'ready'), podOf(db, id, n), T);
}

const phaseOf = (db: Db, id: string) => getWorkload(db, id)?.phase;

describe('applyPodReport', () => {
  it('running -> pod Starting, the workload still Initializing', () => {
    const db = oneTraining();
    const pod = podOf(db, 'w1', 't-0');
    // `changed` is left unpinned here: it is false today although the pod row was written (see report).
    expect(applyPodReport(db, report(pod, 'running'), pod, T).stops).toEqual([]);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Starting');
    expect(phaseOf(db, 'w1')).toBe('Initializing');
  });

  it('running after ready (its readiness probe failed): pod Starting, workload Degraded, Running again on ready', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const ready = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(ready, 'running'), ready, T + 1).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Starting');
    expect(phaseOf(db, 'w1')).toBe('Degraded');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      to: 'Degraded',
      reason: 'PodsNotReady',
    });
    const unready = podOf(db, 'w1', 't-0');
    applyPodReport(db, report(unready, 'ready'), unready, T + 2);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
    expect(phaseOf(db, 'w1')).toBe('Running');
  });

  it('ready -> pod Running and workload Running', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      from: 'Initializing',
      to: 'Running',
      reason: 'PodsReady',
      timeMs: T,
    });
  });

  it('exited with code 0 -> pod Succeeded and workload Completed', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const pod = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(pod, 'exited', { exitCode: 0 }), pod, T).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0')).toMatchObject({ phase: 'Succeeded', exitCode: 0 });
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({ to: 'Completed', reason: 'Succeeded' });
  });

  it('exited with code 3 -> pod Failed with exitCode 3 and workload Failed naming pod and code', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const pod = podOf(db, 'w1', 't-0');
    applyPodReport(db, report(pod, 'exited', { exitCode: 3 }), pod, T);
    expect(podOf(db, 'w1', 't-0')).toMatchObject({ phase: 'Failed', exitCode: 3 });
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      to: 'Failed',
      reason: 'PodFailed',
      message: 'pod t-0 failed with exit code 3',
    });
  });

  it('exited with code 0 before ever ready completes an Initializing workload through Running', () => {
    const db = oneTraining();
    const pod = podOf(db, 'w1', 't-0');
    applyPodReport(db, report(pod, 'running'), pod, T);
    const started = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(started, 'exited', { exitCode: 0 }), started, T).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Succeeded');
    expect(listEvents(db, { workload: 'w1' }).map((e) => e.to)).toEqual([
      'Creating',
      'Pending',
      'Initializing',
      'Running',
      'Completed',
    ]);
  });

  it('an ended report on a Stopping pod stops it and records the exit code', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    applyPlan(
      db,
      plan({
        evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'preempt', reason: 'preempted by x' }],
        phaseChanges: [{ group: 'w1', to: 'Pending', reason: 'preempted by x' }],
      }),
      T,
    );
    const pod = podOf(db, 'w1', 't-0');
    expect(pod.phase).toBe('Stopping');
    const r = applyPodReport(db, report(pod, 'exited', { exitCode: 143, reason: 'stopped' }), pod, T + 1);
    expect(r.changed).toBe(true);
    expect(podOf(db, 'w1', 't-0')).toMatchObject({ phase: 'Stopped', exitCode: 143 });
    expect(phaseOf(db, 'w1')).toBe('Pending');
  });

  it('a live report on a Stopping pod changes nothing', () => {
    const db = oneTraining();
    applyPlan(
      db,
      plan({ evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'preempt', reason: 'r' }] }),
      T,
    );
    const pod = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(pod, 'ready'), pod, T)).toEqual({ stops: [], changed: false });
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopping');
  });

  it('a pod its agent fenced (lease lost) is replaced, not failed: pod Stopped, workload Pending', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const pod = podOf(db, 'w1', 't-0');
    const why = 'lease lost: no allocator for 40000 ms';
    applyPodReport(db, report(pod, 'exited', { exitCode: null, signal: 'SIGTERM', reason: why }), pod, T);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopped');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      from: 'Running',
      to: 'Pending',
      reason: 'NodeFenced',
      message: why,
    });
  });

  it('is idempotent: a repeated identical report writes nothing and adds no event', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const events = listEvents(db).length;
    const running = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(running, 'ready'), running, T + 1).changed).toBe(false);
    applyPodReport(db, report(running, 'exited', { exitCode: 0 }), running, T + 2);
    const after = listEvents(db).length;
    const done = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(done, 'exited', { exitCode: 0 }), done, T + 3).changed).toBe(false);
    expect(listEvents(db)).toHaveLength(after);
    expect(after).toBe(events + 1);
  });
});

describe('nodeLost', () => {
  it('marks the pods on the node Unknown and the workload Degraded, and replaces nothing', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const r = nodeLost(db, 'n1', T);
    expect(r).toEqual({ stops: [], changed: true });
    expect(podOf(db, 'w1', 't-0').phase).toBe('Unknown');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      from: 'Running',
      to: 'Degraded',
      reason: 'NodeUnreachable',
    });
    // The pod still holds its GPU and is what the node is told to keep when it says Hello again.
    expect(listPods(db, { node: 'n1', phases: SCHEDULED_POD_PHASES }).map((p) => p.name)).toEqual(['t-0']);
  });

  it('brings the pod and the workload back to Running when the node reports it again', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    nodeLost(db, 'n1', T);
    const pod = podOf(db, 'w1', 't-0');
    expect(applyPodReport(db, report(pod, 'ready'), pod, T + 50).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
    expect(phaseOf(db, 'w1')).toBe('Running');
  });

  it('leaves a gang with members on the lost node whole: no stops, no requeue', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'g', distributed('ddp', 4), [
      ['n1', 0],
      ['n1', 1],
      ['n2', 0],
      ['n2', 1],
    ]);
    allReady(db, 'g', ['ddp-0', 'ddp-1', 'ddp-2', 'ddp-3']);
    const r = nodeLost(db, 'n1', T);
    expect(r.stops).toEqual([]);
    expect(['ddp-0', 'ddp-1', 'ddp-2', 'ddp-3'].map((n) => podOf(db, 'g', n).phase)).toEqual([
      'Unknown',
      'Unknown',
      'Running',
      'Running',
    ]);
    expect(phaseOf(db, 'g')).toBe('Degraded');
  });

  it('leaves stops on the lost node pending: the StopPod may never have reached it', () => {
    const db = oneTraining();
    applyPlan(
      db,
      plan({ evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'preempt', reason: 'r' }] }),
      T,
    );
    expect(nodeLost(db, 'n1', T + 1)).toEqual({ stops: [], changed: false });
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopping');
  });

  it('leaves a Bound pod Bound (its StartPod goes out again when the node is back), and nothing of it moves', () => {
    const db = oneTraining();
    markLostNodes(db, T + 1_000_000, 1000);
    expect(nodeLost(db, 'n1', T).changed).toBe(false);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Bound');
    expect(buildSnapshot(db, T).groups.find((g) => g.id === 'w1')?.unreachable).toBe(true);
  });

  it('changes nothing on a node with no pods', () => {
    const db = oneTraining();
    expect(nodeLost(db, 'n2', T)).toEqual({ stops: [], changed: false });
  });
});

describe('replaceCutOff', () => {
  it('replaces a reschedule pod once its node was silent for its time plus the margin, never a keep pod', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'r', { ...training('r'), disconnectPolicy: 'reschedule:30s' }, [['n1', 0]]);
    submitBound(db, 'k', training('k'), [['n1', 1]]);
    allReady(db, 'r', ['r-0']);
    allReady(db, 'k', ['k-0']);
    const due = 30_000 + DISCONNECT_MARGIN_MS;
    expect(replaceCutOff(db, new Map([['n1', due - 1]]), T).changed).toBe(false);
    expect(podOf(db, 'r', 'r-0').phase).toBe('Running');
    const r = replaceCutOff(db, new Map([['n1', due]]), T);
    expect(r.changed).toBe(true);
    expect(podOf(db, 'r', 'r-0').phase).toBe('Stopped');
    expect(listEvents(db, { workload: 'r' }).at(-1)).toMatchObject({
      to: 'Pending',
      reason: 'NodeLost',
      message: 'node n1 cut off past its disconnect policy reschedule:30s',
    });
    // Days later the keep pod is still what the allocator expects to run.
    expect(replaceCutOff(db, new Map([['n1', 86_400_000]]), T).changed).toBe(false);
    expect(podOf(db, 'k', 'k-0').phase).toBe('Running');
  });
});

describe('forceDeleteNode', () => {
  it('refuses a node that did not miss its lease', () => {
    const db = oneTraining();
    const r = forceDeleteNode(db, 'n1', T);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'TESSERA_E_CONFLICT' });
    expect(podOf(db, 'w1', 't-0').phase).toBe('Bound');
  });

  it('replaces the Unknown pods of a lost node and forgets the node', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    markLostNodes(db, T + 1_000_000, 1000);
    nodeLost(db, 'n1', T);
    const r = forceDeleteNode(db, 'n1', T + 1);
    expect(r.ok).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopped');
    expect(phaseOf(db, 'w1')).toBe('Pending');
    expect(getNode(db, 'n1')).toBeUndefined();
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      to: 'Pending',
      reason: 'NodeLost',
      message: 'node n1 deleted by an admin',
    });
  });
});

describe('confirmAbsent', () => {
  it('only acts on Stopping pods', () => {
    const db = oneTraining();
    allReady(db, 'w1', ['t-0']);
    const running = podOf(db, 'w1', 't-0');
    expect(confirmAbsent(db, running, T)).toEqual({ stops: [], changed: false });
    expect(podOf(db, 'w1', 't-0').phase).toBe('Running');
    applyPlan(
      db,
      plan({ evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'preempt', reason: 'r' }] }),
      T,
    );
    expect(confirmAbsent(db, podOf(db, 'w1', 't-0'), T + 1).changed).toBe(true);
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopped');
  });
});
