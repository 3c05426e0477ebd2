/** restartPolicy and backoffLimit: what a failed pod does to its workload, gang or lone pod. */
import { describe, expect, it } from 'vitest';
import { applyPodReport, failLost } from '../../../allocator/lifecycle/reports.ts';
import { failureVerdict, isRetryable } from '../../../allocator/lifecycle/restart.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { listPods } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { getWorkload } from '../../../allocator/store/workloads.ts';
import type { WirePodStatus } from '../../../common/wire.ts';
import {
  bind,
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
const PLACES = [
  ['n1', 0],
  ['n1', 1],
  ['n2', 0],
  ['n2', 1],
] as const;

/** A store with a running 4-pod gang `g` (pods d-0..d-3) under `restart`. */
function runningGang(restart: Record<string, unknown>): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'g', { ...distributed('d', 4), ...restart }, PLACES);
  for (let i = 0; i < 4; i++) ready(db, 'g', `d-${i}`);
  return db;
}

/** A store with a running one-pod training `w` (pod t-0) under `restart`. */
function runningOne(restart: Record<string, unknown>): Db {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w', { ...training('t'), ...restart }, [['n1', 0]]);
  ready(db, 'w', 't-0');
  return db;
}

function ready(db: Db, id: string, name: string): void {
  const pod = podOf(db, id, name);
  applyPodReport(db, report(pod, 'ready'), pod, T);
}

/** The agent reports pod `name` of `id` ended with `extra`. */
function ended(db: Db, id: string, name: string, extra: Partial<WirePodStatus>) {
  const pod = podOf(db, id, name);
  return applyPodReport(db, report(pod, 'exited', extra), pod, T);
}

const KILLED = { exitCode: null, signal: 'SIGKILL' };
const workload = (db: Db, id: string) => getWorkload(db, id);
const lastEvent = (db: Db, id: string) => listEvents(db, { workload: id }).at(-1);
const phases = (db: Db, id: string) =>
  Object.fromEntries(listPods(db, { workload: id }).map((p) => [p.name, p.phase]));

/** Binds the next attempt of gang `g` as a scheduling cycle would: pods d-<from>.. on the same GPUs. */
function placeAgain(db: Db, from: number): void {
  applyPlan(db, plan({ binds: PLACES.map(([n, gpu], i) => bind('g', `d-${from + i}`, n, gpu)) }), T);
}

describe('failureVerdict', () => {
  const spec = { type: 'distributed', restartPolicy: 'OnFailure', backoffLimit: 2, minReplicas: 4 } as const;

  it('Never always fails, whatever the count', () => {
    expect(failureVerdict({ ...spec, restartPolicy: 'Never' }, 0, true)).toEqual({ kind: 'fail' });
  });

  it('OnFailure restarts below the limit (the gang when minReplicas > 1), and is exhausted at it', () => {
    expect(failureVerdict(spec, 0, true)).toEqual({ kind: 'restart', restart: 1, gang: true });
    expect(failureVerdict({ ...spec, minReplicas: 1 }, 1, true)).toEqual({
      kind: 'restart',
      restart: 2,
      gang: false,
    });
    expect(failureVerdict(spec, 2, true)).toEqual({ kind: 'exhausted' });
    expect(failureVerdict({ ...spec, backoffLimit: 0 }, 0, true)).toEqual({ kind: 'exhausted' });
  });

  it('inference and workspace replicas restart alone, whatever minReplicas', () => {
    for (const type of ['inference', 'workspace'] as const)
      expect(failureVerdict({ ...spec, type }, 0, true)).toEqual({
        kind: 'restart',
        restart: 1,
        gang: false,
      });
  });

  it('a failure no restart can fix fails even under OnFailure', () => {
    expect(failureVerdict(spec, 0, false)).toEqual({ kind: 'fail' });
  });
});

describe('isRetryable', () => {
  it('retries what ran and failed: an exit code, a signal, OOMKilled, a pod lost with its node', () => {
    for (const why of ['exited with code 1', 'killed by SIGKILL', 'OOMKilled', 'Lost: node n1 ...'])
      expect(isRetryable(why, true)).toBe(true);
  });

  it('never retries an image pull failure nor a start that failed before the pod ran', () => {
    expect(isRetryable('ImagePullFailed: unauthorized', true)).toBe(false);
    expect(isRetryable('pod g/d-0: cannot start "nope": not found or not executable', false)).toBe(false);
  });
});

describe('restartPolicy Never', () => {
  it('keeps the old behaviour: the failed pod is Failed, the gang Degraded, nothing counted or stopped', () => {
    const db = runningGang({});
    expect(ended(db, 'g', 'd-1', { exitCode: 3 }).stops).toEqual([]);
    expect(podOf(db, 'g', 'd-1').phase).toBe('Failed');
    expect(workload(db, 'g')).toMatchObject({ phase: 'Degraded', phaseReason: 'PodFailed', restarts: 0 });
  });
});

describe('restartPolicy OnFailure, a gang', () => {
  it('one pod killed stops the whole gang and queues it again, counting restart 1 of 6', () => {
    const db = runningGang({ restartPolicy: 'OnFailure' });
    const r = ended(db, 'g', 'd-1', KILLED);
    expect(r.stops.map((s) => s.pod).sort()).toEqual(['d-0', 'd-2', 'd-3']);
    expect(r.stops.every((s) => s.reason === 'gang restart: pod d-1 failed')).toBe(true);
    expect(phases(db, 'g')).toEqual({
      'd-0': 'Stopping',
      'd-1': 'Stopped',
      'd-2': 'Stopping',
      'd-3': 'Stopping',
    });
    expect(workload(db, 'g')).toMatchObject({ phase: 'Pending', phaseReason: 'Restarting', restarts: 1 });
    expect(lastEvent(db, 'g')).toMatchObject({
      from: 'Running',
      to: 'Pending',
      reason: 'Restarting',
      message: 'restarting: pod d-1 failed (killed by SIGKILL); restart 1 of 6',
    });
    // The scheduler sees the gang with no pods, to place whole again.
    expect(buildSnapshot(db, T).groups.find((g) => g.id === 'g')?.pods).toEqual([]);
  });

  it('a neighbour failing in turn (its ring broke) counts nothing more: its stop is already on the way', () => {
    const db = runningGang({ restartPolicy: 'OnFailure' });
    ended(db, 'g', 'd-1', KILLED);
    expect(ended(db, 'g', 'd-2', { exitCode: 1 }).stops).toEqual([]);
    expect(podOf(db, 'g', 'd-2')).toMatchObject({ phase: 'Stopped', exitCode: 1 });
    expect(workload(db, 'g')).toMatchObject({ phase: 'Pending', restarts: 1 });
  });

  it('the next attempt runs under new pod names at their own epochs; the old pods stay ended', () => {
    const db = runningGang({ restartPolicy: 'OnFailure', backoffLimit: 1 });
    ended(db, 'g', 'd-1', { exitCode: 2 });
    placeAgain(db, 4);
    expect(workload(db, 'g')?.phase).toBe('Initializing');
    for (let i = 4; i < 8; i++) ready(db, 'g', `d-${i}`);
    expect(workload(db, 'g')).toMatchObject({ phase: 'Running', restarts: 1 });
    // A late report of an old pod of the first attempt moves nothing.
    expect(ended(db, 'g', 'd-1', { exitCode: 2 }).changed).toBe(false);
    expect(podOf(db, 'g', 'd-4').epoch).toBe(1);
  });

  it('past the limit the workload is Failed (BackoffLimitExceeded) with the pod reason, and the rest stopped', () => {
    const db = runningGang({ restartPolicy: 'OnFailure', backoffLimit: 1 });
    ended(db, 'g', 'd-1', { exitCode: 2 });
    placeAgain(db, 4);
    for (let i = 4; i < 8; i++) ready(db, 'g', `d-${i}`);
    const r = ended(db, 'g', 'd-6', { exitCode: 137, reason: 'OOMKilled' });
    expect(r.stops.map((s) => s.pod).sort()).toEqual(['d-4', 'd-5', 'd-7']);
    expect(podOf(db, 'g', 'd-6').phase).toBe('Failed');
    expect(workload(db, 'g')).toMatchObject({
      phase: 'Failed',
      phaseReason: 'BackoffLimitExceeded',
      restarts: 1,
    });
    expect(lastEvent(db, 'g')?.message).toBe(
      'pod d-6 failed with exit code 137: OOMKilled; backoff limit of 1 restart(s) reached',
    );
  });

  it('backoffLimit 0 fails at the first failure', () => {
    const db = runningGang({ restartPolicy: 'OnFailure', backoffLimit: 0 });
    ended(db, 'g', 'd-0', { exitCode: 1 });
    expect(workload(db, 'g')).toMatchObject({
      phase: 'Failed',
      phaseReason: 'BackoffLimitExceeded',
      restarts: 0,
    });
  });

  it('an image pull failure is not retried: Failed as ImagePullFailed', () => {
    const db = runningGang({ restartPolicy: 'OnFailure' });
    ended(db, 'g', 'd-0', { reason: 'ImagePullFailed: unauthorized' });
    expect(podOf(db, 'g', 'd-0').phase).toBe('Failed');
    expect(workload(db, 'g')).toMatchObject({
      phase: 'Degraded',
      phaseReason: 'ImagePullFailed',
      restarts: 0,
    });
  });
});

describe('restartPolicy OnFailure, a lone pod', () => {
  it('a failed pod is ended and its workload queued for a new one', () => {
    const db = runningOne({ restartPolicy: 'OnFailure', backoffLimit: 3 });
    ended(db, 'w', 't-0', { exitCode: 1 });
    expect(podOf(db, 'w', 't-0')).toMatchObject({ phase: 'Stopped', exitCode: 1 });
    expect(lastEvent(db, 'w')).toMatchObject({
      to: 'Pending',
      reason: 'Restarting',
      message: 'restarting: pod t-0 failed (exit 1); restart 1 of 3',
    });
  });

  it('a pod Lost with its node is restarted too', () => {
    const db = runningOne({ restartPolicy: 'OnFailure' });
    failLost(db, podOf(db, 'w', 't-0'), T, 60_000);
    expect(workload(db, 'w')).toMatchObject({ phase: 'Pending', restarts: 1 });
    expect(lastEvent(db, 'w')?.message).toMatch(
      /^restarting: pod t-0 failed \(Lost: node n1 .*\); restart 1 of 6$/,
    );
  });

  it('a start that failed before the pod ran (no exit code, no signal) is not retried', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w', { ...training('t'), restartPolicy: 'OnFailure' }, [['n1', 0]]);
    ended(db, 'w', 't-0', { reason: 'pod w/t-0: cannot start "nope": not found or not executable' });
    expect(workload(db, 'w')).toMatchObject({ phase: 'Failed', phaseReason: 'PodFailed', restarts: 0 });
  });

  it('a replica of an elastic workload above its minimum is replaced while the others run on', () => {
    const db = openTemp();
    smallOrg(db);
    const spec = { ...distributed('d', 2, 1), restartPolicy: 'OnFailure' };
    submitBound(db, 'g', spec, PLACES.slice(0, 2));
    ready(db, 'g', 'd-0');
    ready(db, 'g', 'd-1');
    expect(ended(db, 'g', 'd-1', { exitCode: 1 }).stops).toEqual([]);
    expect(phases(db, 'g')).toEqual({ 'd-0': 'Running', 'd-1': 'Stopped' });
    expect(workload(db, 'g')).toMatchObject({ phase: 'Running', restarts: 1 });
    expect(lastEvent(db, 'g')).toMatchObject({ from: 'Running', to: 'Running', reason: 'Restarting' });
  });
});
