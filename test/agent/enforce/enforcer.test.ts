import { describe, expect, expectTypeOf, it } from 'vitest';
import { createEnforcer, type EnforcerOptions } from '../../../agent/enforce/enforcer.ts';
import { createSwapPool } from '../../../agent/enforce/swap.ts';
import { createTimeSlicer } from '../../../agent/enforce/time-slice.ts';
import type { EnforcedPod, EnforceEvent, PodControl, SwapControl } from '../../../agent/enforce/types.ts';
import type { GpuDriver } from '../../../agent/gpu/driver.ts';
import type { Runner } from '../../../agent/runner/runner.ts';
import { err, ok, tesseraError } from '../../../common/errors.ts';
import { grant, manualClock, pod, recordingControl, sample } from './helpers.ts';

const flush = () => new Promise<void>((r) => setImmediate(r));

function okSwap(calls: string[], supported = true): SwapControl {
  return {
    swapSupport: async () =>
      supported ? ok(true) : err(tesseraError('TESSERA_E_INTERNAL', 'cuda-checkpoint not found on PATH')),
    checkpoint: async (pid) => {
      calls.push(`checkpoint ${pid}`);
      return ok(true);
    },
    restore: async (pid) => {
      calls.push(`restore ${pid}`);
      return ok(true);
    },
  };
}

function setup(pods: EnforcedPod[], extra: Partial<EnforcerOptions> = {}) {
  const control = recordingControl();
  const events: EnforceEvent[] = [];
  let nowMs = 1003;
  const enforcer = createEnforcer({
    pods: () => pods,
    control,
    gpuTotals: [{ uuid: 'GPU-x', totalMiB: 16000, reservedMiB: 0 }],
    onEvent: (e) => events.push(e),
    now: () => nowMs,
    ...extra,
  });
  return { control, events, enforcer, setNow: (ms: number) => (nowMs = ms) };
}

describe('enforcer', () => {
  const over = sample([
    ['GPU-x', 10, 5200],
    ['GPU-x', 20, 1000],
  ]);

  it('kills a pod over its limit once, however many samples arrive while the kill is in flight', async () => {
    const pods = [pod('p', [10], [grant('GPU-x', 4096)]), pod('q', [20], [grant('GPU-x', 4096)])];
    const { control, events, enforcer } = setup(pods);
    enforcer.onSample(over);
    enforcer.onSample(over);
    expect(control.calls).toEqual([
      'kill p: GPU OOM: pod p used 5200 MiB on GPU-x, over its limit of 4096 MiB',
    ]);
    expect(enforcer.inFlight()).toEqual(['p']);
    // The kill completes but the runner still reports p live for a moment: still no second kill.
    control.settleKill('p');
    await flush();
    enforcer.onSample(over);
    expect(control.calls).toHaveLength(1);
    // Once the runner reports it exited, it is no longer in flight.
    pods[0] = { ...pods[0]!, state: 'exited' };
    enforcer.onSample(over);
    expect(enforcer.inFlight()).toEqual([]);
    expect(events.map((e) => [e.kind, e.podId, e.usedMiB, e.limitMiB])).toEqual([
      ['gpu-oom-kill', 'p', 5200, 4096],
    ]);
    expect(enforcer.counters()).toMatchObject({ oomKills: 1, reclaimKills: 0, killLatencyLastMs: 3 });
  });

  it('retries a kill that failed on a later sample', async () => {
    const errors: string[] = [];
    const { control, enforcer } = setup([pod('p', [10], [grant('GPU-x', 4096)])], {
      onError: (podId, e) => errors.push(`${podId}: ${(e as Error).message}`),
    });
    enforcer.onSample(over);
    control.settleKill('p', new Error('no such process group'));
    await flush();
    expect(errors).toEqual(['p: no such process group']);
    enforcer.onSample(over);
    expect(control.calls.filter((c) => c.startsWith('kill'))).toHaveLength(2);
  });

  it('retries a kill the runner answered with a failed Result', async () => {
    const control = recordingControl();
    const kills: string[] = [];
    control.kill = async (podId) => {
      kills.push(podId);
      return err(tesseraError('TESSERA_E_CONFLICT', `pod ${podId} could not be killed`));
    };
    const errors: unknown[] = [];
    const enforcer = createEnforcer({
      pods: () => [pod('p', [10], [grant('GPU-x', 4096)])],
      control,
      gpuTotals: [],
      onEvent: () => {},
      onError: (_podId, e) => errors.push(e),
    });
    enforcer.onSample(over);
    await flush();
    expect(enforcer.inFlight()).toEqual([]);
    expect(errors).toEqual([{ code: 'TESSERA_E_CONFLICT', message: 'pod p could not be killed' }]);
    enforcer.onSample(over);
    expect(kills).toEqual(['p', 'p']);
  });

  it('the runner and the GPU driver plug in as they are', () => {
    expectTypeOf<Runner>().toExtend<PodControl>();
    expectTypeOf<GpuDriver>().toExtend<SwapControl>();
  });

  it('calls kill within milliseconds of the sample on the real clock', () => {
    const control = recordingControl();
    const enforcer = createEnforcer({
      pods: () => [pod('p', [10], [grant('GPU-x', 4096)])],
      control,
      gpuTotals: [],
      onEvent: () => {},
    });
    enforcer.onSample({ ...over, atMs: Date.now() });
    expect(control.calls).toHaveLength(1);
    expect(enforcer.counters().killLatencyLastMs).toBeLessThan(50);
  });

  it('a pod killed for its limit is not reclaimed as well', () => {
    // b is both over its limit (10000 > 9000) and a borrower a needs memory from: one kill only.
    const pods = [pod('a', [1], [grant('GPU-x', 8000)]), pod('b', [2], [grant('GPU-x', 4000, 9000)])];
    const { control, events, enforcer } = setup(pods);
    enforcer.onSample(
      sample([
        ['GPU-x', 1, 3000],
        ['GPU-x', 2, 10000],
      ]),
    );
    expect(control.calls).toHaveLength(1);
    expect(events.map((e) => e.kind)).toEqual(['gpu-oom-kill']);
  });

  const borrow = () => ({
    pods: [pod('a', [1], [grant('GPU-x', 8000)]), pod('b', [2, 3], [grant('GPU-x', 4000, 12000)])],
    // b's pid 3 holds no GPU memory: it is not checkpointed.
    s: sample([
      ['GPU-x', 1, 3000],
      ['GPU-x', 2, 10000],
    ]),
  });

  it('reclaims a borrower by kill when swap is off, and never touches unknown processes', () => {
    const { pods, s } = borrow();
    const { control, events, enforcer } = setup(pods);
    enforcer.onSample({
      ...s,
      processes: [...s.processes, { gpuUuid: 'GPU-x', pid: 999, usedMemoryMiB: 100 }],
    });
    expect(control.calls.map((c) => c.slice(0, 7))).toEqual(['kill b:']);
    expect(events.map((e) => e.kind)).toEqual(['reclaim-kill']);
    expect(enforcer.counters()).toMatchObject({ reclaimKills: 1, unknownProcesses: 1 });
  });

  it('reclaims a borrower by swap-out when swap is on, then leaves it alone while swapped', async () => {
    const { pods, s } = borrow();
    const calls: string[] = [];
    const swap = createSwapPool({ capacityMiB: 32768, control: okSwap(calls) });
    const { control, events, enforcer } = setup(pods, { swap });
    enforcer.onSample(s);
    enforcer.onSample(s);
    await flush();
    expect(calls).toEqual(['checkpoint 2']);
    expect(swap.entries().map((e) => [e.podId, e.usedMiB, e.perGpuMiB])).toEqual([
      ['b', 10000, { 'GPU-x': 10000 }],
    ]);
    expect(events.map((e) => [e.kind, e.podId])).toEqual([['swap-out', 'b']]);
    enforcer.onSample(s);
    await flush();
    expect(control.calls).toEqual([]);
    expect(enforcer.counters()).toMatchObject({ swapsOut: 1, reclaimSwaps: 1, reclaimKills: 0 });
  });

  it('kills the borrower when the swap is refused, after reporting the refusal', async () => {
    const { pods, s } = borrow();
    const swap = createSwapPool({ capacityMiB: 32768, control: okSwap([], false) });
    const { control, events, enforcer } = setup(pods, { swap });
    enforcer.onSample(s);
    await flush();
    const reclaim =
      'dynamic fraction reclaim: pod b uses 10000 MiB on GPU-x, borrowing 6000 MiB over its request of 4000 MiB; ' +
      'pod a needs 5000 MiB more to reach its request and only 3000 MiB is free';
    expect(events.map((e) => [e.kind, e.reason])).toEqual([
      ['swap-refused', 'cuda-checkpoint not found on PATH'],
      ['reclaim-kill', `${reclaim}; swap refused (cuda-checkpoint not found on PATH), killed instead`],
    ]);
    expect(control.calls).toHaveLength(1);
    expect(enforcer.counters()).toMatchObject({ swapRefusals: 1, reclaimKills: 1, reclaimSwaps: 0 });
  });

  it('lets a time-sliced pod run (thawed) before it is killed, so it can act on SIGTERM', () => {
    const clock = manualClock(1000);
    const pods = [pod('a', [1], [grant('GPU-x', 4096)]), pod('b', [2], [grant('GPU-x', 4096)])];
    const control = recordingControl();
    const slicer = createTimeSlicer({ control, mode: 'strict', cycleMs: 200, ...clock });
    const enforcer = createEnforcer({
      pods: () => pods,
      control,
      gpuTotals: [],
      slicer,
      onEvent: () => {},
      now: clock.now,
    });
    enforcer.onSample(sample([['GPU-x', 2, 100]], { utilizationPct: 90 }));
    slicer.start();
    expect(control.calls).toEqual(['freeze b']);
    enforcer.onSample(sample([['GPU-x', 2, 5000]], { atMs: 1010 }));
    expect(control.calls.slice(1)).toEqual([
      'thaw b',
      'kill b: GPU OOM: pod b used 5000 MiB on GPU-x, over its limit of 4096 MiB',
    ]);
    clock.advance(1000);
    expect(control.calls.filter((c) => c.endsWith(' b'))).toEqual(['freeze b', 'thaw b']);
    slicer.stop();
    expect(enforcer.counters().slicePauses).toBeGreaterThan(0);
  });

  it('swaps a pod out on request with the latest sample, counted as a swap but not a reclaim', async () => {
    const calls: string[] = [];
    const swap = createSwapPool({ capacityMiB: 32768, control: okSwap(calls) });
    const pods = [pod('a', [1, 2], [grant('GPU-x', 8000)])];
    const { events, enforcer } = setup(pods, { swap });
    expect(await enforcer.swapOut('a', 'asked')).toEqual({
      ok: false,
      reason: 'no GPU sample yet to swap pod a out by; try again',
    });
    // pid 2 holds no GPU memory: only pid 1 is checkpointed.
    enforcer.onSample(sample([['GPU-x', 1, 6000]]));
    expect(await enforcer.swapOut('a', 'asked')).toEqual({ ok: true });
    expect(calls).toEqual(['checkpoint 1']);
    expect(events.map((e) => [e.kind, e.podId, e.reason, e.usedMiB])).toEqual([
      ['swap-out', 'a', 'asked', 6000],
    ]);
    expect(await enforcer.swapOut('a', 'asked')).toEqual({
      ok: false,
      reason: 'pod a is already swapped out',
    });
    expect(enforcer.counters()).toMatchObject({ swapsOut: 1, reclaimSwaps: 0, swapRefusals: 0 });
  });

  it('swaps an idle tenant out to make room for a pod swapped back in', async () => {
    // GPU-x 16000: b (idle since 0) holds 9000, c (busy) 5000; a, swapped out with 6000, comes back:
    // free 2000, so 4000 more are needed and only b, idle past the window, may give them.
    const calls: string[] = [];
    const swap = createSwapPool({ capacityMiB: 32768, control: okSwap(calls) });
    await swap.swapOut({ podId: 'a', pids: [1] }, 6000, 'idle', { 'GPU-x': 6000 });
    calls.length = 0;
    const pods = [
      pod('a', [1], [grant('GPU-x', 6000)]),
      pod('b', [2], [grant('GPU-x', 9000)]),
      pod('c', [3], [grant('GPU-x', 5000)]),
    ];
    const { events, enforcer, setNow } = setup(pods, {
      swap,
      idleWindowMs: 60_000,
      isActive: (p) => p.podId === 'c',
    });
    const s = (atMs: number) =>
      sample(
        [
          ['GPU-x', 2, 9000],
          ['GPU-x', 3, 5000],
        ],
        { atMs },
      );
    enforcer.onSample(s(0));
    setNow(30_000);
    expect(await enforcer.swapIn('a')).toEqual({
      ok: false,
      reason:
        'not enough room on GPU-x to swap in pod a: it needs 6000 MiB, 2000 MiB is free and idle tenants hold only 0 MiB',
    });
    setNow(70_000);
    enforcer.onSample(s(70_000));
    expect(await enforcer.swapIn('a')).toEqual({ ok: true });
    expect(calls).toEqual(['checkpoint 2', 'restore 1']);
    expect(events[1]?.reason).toBe('swapped out to make room for pod a on GPU-x: idle for 70000 ms');
    expect(events.map((e) => [e.kind, e.podId])).toEqual([
      ['swap-refused', 'a'],
      ['swap-out', 'b'],
      ['swap-in', 'a'],
    ]);
    // Room made for a swap-in is no reclaim.
    expect(enforcer.counters()).toMatchObject({ swapsIn: 1, swapsOut: 1, swapRefusals: 1, reclaimSwaps: 0 });
  });
});
