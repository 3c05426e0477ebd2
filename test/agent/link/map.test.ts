import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../agent/link/backoff.ts';
import {
  clipText,
  desiredMap,
  eventToWire,
  fenceAgainst,
  gpuSampleToWire,
  inventoryFromStatus,
  migModeToWire,
  podSpecFromWire,
  podStatusToWire,
  runningPodsToWire,
  statusToWire,
} from '../../../agent/link/map.ts';
import { checkFrame, makeFrame, type StartPod, WIRE_LIMITS } from '../../../common/wire.ts';
import { noContainer } from '../../wire-pod-spec.ts';
import { fakeStatus, podStatus } from './fixtures.ts';

const start: StartPod = {
  podId: 'p1',
  epoch: 2,
  spec: {
    workload: 'w',
    project: 'p',
    command: ['run'],
    env: { K: 'v' },
    networkEnv: {},
    workingDir: null,
    priority: 1,
    graceSeconds: 3,
    readiness: null,
    rescheduleAfterMs: null,
    ...noContainer(),
  },
  gpuGrants: [],
};

describe('link mapping', () => {
  it('a StartPod with nulls maps to a PodSpec without the optional fields (runner defaults apply)', () => {
    const spec = podSpecFromWire(start);
    expect(spec).toEqual({
      podId: 'p1',
      workload: 'w',
      project: 'p',
      epoch: 2,
      command: ['run'],
      env: { K: 'v' },
      grants: [],
      priority: 1,
      graceSeconds: 3,
    });
    expect('workingDir' in spec).toBe(false);
    expect('readiness' in spec).toBe(false);
    expect('networkEnv' in spec).toBe(false);
  });

  it("a StartPod's network env reaches the PodSpec apart from its env", () => {
    const networkEnv = { TESSERA_PORT_HTTP: '40000', PORT: '40000' };
    const spec = podSpecFromWire({ ...start, spec: { ...start.spec, networkEnv } });
    expect(spec.networkEnv).toEqual(networkEnv);
    expect(spec.env).toEqual({ K: 'v' });
  });

  it('a StartPod with workingDir and readiness keeps them, null rules included', () => {
    const spec = podSpecFromWire({
      ...start,
      spec: {
        ...start.spec,
        workingDir: '/srv',
        readiness: { linePrefix: 'UP', delayMs: null, probe: null },
      },
    });
    expect(spec.workingDir).toBe('/srv');
    expect(spec.readiness).toEqual({ linePrefix: 'UP', delayMs: null });
  });

  it('a StartPod with an image carries pull policy, credential, user, mounts and limits to the runner', () => {
    const mounts = [{ hostPath: '/datasets', containerPath: '/data', readOnly: true }];
    const credential = { server: 'nvcr.io', username: '$oauthtoken', password: 'nvapi-x' };
    const spec = podSpecFromWire({
      ...start,
      spec: {
        ...start.spec,
        image: 'nvcr.io/nvidia/pytorch:24.05-py3',
        imagePullPolicy: 'Never',
        pullCredential: credential,
        runAsUser: 1000,
        runAsGroup: 0,
        mounts,
        cpuMillis: 4000,
        memoryMiB: 16_384,
      },
    });
    expect(spec).toMatchObject({
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      imagePullPolicy: 'Never',
      pullCredential: credential,
      runAsUser: 1000,
      runAsGroup: 0,
      mounts,
      cpuMillis: 4000,
      memoryMiB: 16_384,
    });
  });

  it('a process pod without limits leaves every container field absent', () => {
    const spec = podSpecFromWire(start);
    for (const k of [
      'image',
      'imagePullPolicy',
      'pullCredential',
      'runAsUser',
      'runAsGroup',
      'mounts',
      'cpuMillis',
      'memoryMiB',
    ])
      expect(k in spec).toBe(false);
  });

  it('unknown MIG modes read as unsupported', () => {
    expect(migModeToWire('enabled')).toBe('enabled');
    expect(migModeToWire('disabled')).toBe('disabled');
    expect(migModeToWire('[N/A]')).toBe('unsupported');
  });

  it('a pod status drops runner-only fields, clips its reason and nulls an impossible pid', () => {
    const p = { ...podStatus('p1', 4, 'exited'), pid: 0, exitCode: 137, reason: 'x'.repeat(10_000) };
    const w = podStatusToWire(p);
    expect(w.pid).toBeNull();
    expect(w.exitCode).toBe(137);
    expect(w.reason?.length).toBe(WIRE_LIMITS.maxTextChars);
    expect(Object.keys(w).sort()).toEqual(
      ['epoch', 'exitCode', 'pid', 'podId', 'reason', 'signal', 'startedAtMs', 'state'].sort(),
    );
  });

  it('Hello lists only pods that may still run', () => {
    const pods = [
      podStatus('a', 1),
      podStatus('b', 1, 'exited'),
      podStatus('c', 2, 'lost'),
      podStatus('d', 3, 'stopping'),
    ];
    expect(runningPodsToWire(pods).map((p) => p.podId)).toEqual(['a', 'd']);
  });

  it('GPU samples outside the wire ranges read as not reported', () => {
    const g = fakeStatus([]).gpus[0];
    if (g === undefined || g.sample === null) throw new Error('fixture has a sample');
    const w = gpuSampleToWire({ ...g, sample: { ...g.sample, utilizationPct: 140, powerDrawW: Number.NaN } });
    expect(w).toMatchObject({
      utilizationPct: null,
      powerDrawW: null,
      memoryUsedMiB: 1024,
      memoryTotalMiB: 81920,
    });
    expect(gpuSampleToWire({ ...g, sample: null })).toBeNull();
  });

  it('status, inventory and events map to frames the codec accepts', () => {
    const s = fakeStatus([podStatus('a', 1), podStatus('b', 2, 'exited')]);
    const status = statusToWire(s, 7);
    expect(status.podStates).toHaveLength(2);
    expect(checkFrame(makeFrame({ case: 'status', value: status })).ok).toBe(true);
    const inventory = inventoryFromStatus(
      s,
      { zone: 'a' },
      { address: '10.0.0.7', portRange: { first: 40000, last: 40999 } },
    );
    expect(inventory.cpuMillis).toBe(8000);
    const hello = {
      node: 'n',
      agentVersion: '1',
      token: 't',
      inventory,
      runningPods: runningPodsToWire(s.pods),
    };
    expect(checkFrame(makeFrame({ case: 'hello', value: hello })).ok).toBe(true);
    const e = eventToWire(
      {
        seq: 1,
        atMs: 2,
        kind: 'pod-state',
        podId: 'a',
        reason: 'exited',
        pid: 12,
        exitCode: null,
        state: 'exited',
      },
      3,
    );
    expect(e).toEqual({
      seq: 3,
      atMs: 2,
      kind: 'pod-state',
      podId: 'a',
      gpuUuid: null,
      reason: 'exited',
      numbers: { pid: 12 },
    });
    expect(checkFrame(makeFrame({ case: 'event', value: e })).ok).toBe(true);
  });

  it("a runtime's progress event goes on the wire with its own numbers, and passes the frame check", () => {
    for (const kind of ['image-pulling', 'image-pulled', 'image-pull-retry', 'container-created'] as const) {
      const e = eventToWire(
        {
          seq: 1,
          atMs: 2,
          kind,
          podId: 'a',
          reason: `${kind} nvcr.io/x:1`,
          numbers: { attempt: 2, bytes: 10 },
        },
        4,
      );
      expect(e).toMatchObject({ kind, podId: 'a', numbers: { attempt: 2, bytes: 10 } });
      expect(checkFrame(makeFrame({ case: 'event', value: e })).ok).toBe(true);
    }
  });

  it('fencing keeps a pod only when desired at its own epoch or an older one', () => {
    const desired = desiredMap([
      { podId: 'same', epoch: 3 },
      { podId: 'newer', epoch: 5 },
      { podId: 'newer', epoch: 4 },
    ]);
    expect(desired.get('newer')).toBe(5);
    expect(fenceAgainst({ podId: 'same', epoch: 3 }, desired)).toEqual({ keep: true });
    expect(fenceAgainst({ podId: 'newer', epoch: 3 }, desired)).toMatchObject({ keep: false });
    expect(fenceAgainst({ podId: 'gone', epoch: 1 }, desired)).toMatchObject({ keep: false });
  });

  it('clipText leaves short text alone and cuts long text to the limit', () => {
    expect(clipText('abc', 5)).toBe('abc');
    expect(clipText('abcdefgh', 5)).toBe('abcd…');
  });
});

describe('reconnect backoff', () => {
  it('doubles from initialMs up to maxMs, scaled by the random draw (full jitter)', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    const top = () => 0.9999;
    expect([0, 1, 2, 3, 4, 50].map((n) => backoffDelayMs(n, b, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, b, () => 0)).toBe(0);
    expect(backoffDelayMs(1, b, () => 0.5)).toBe(100);
  });
});
