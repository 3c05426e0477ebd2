import { describe, expect, it } from 'vitest';
import { createStatusDeltas } from '../../../agent/link/status-delta.ts';
import { applyStatus, type StatusView } from '../../../allocator/link/status-view.ts';
import type { Status, WireGpuSample, WirePodStatus } from '../../../common/wire.ts';

const T = 1_700_000_000_000;

function pod(id: string, state: WirePodStatus['state'] = 'running'): WirePodStatus {
  return {
    podId: id,
    epoch: 1,
    state,
    pid: 100,
    exitCode: null,
    signal: null,
    reason: null,
    startedAtMs: null,
  };
}

function sample(util: number): WireGpuSample {
  const s = { uuid: 'GPU-0', index: 0, utilizationPct: util, memoryUsedMiB: 1, memoryTotalMiB: 2 };
  return { ...s, temperatureC: 40, powerDrawW: 100 };
}

function status(seq: number, pods: WirePodStatus[], util = 5): Status {
  return { seq, atMs: T + seq, gpuSamples: [sample(util)], podStates: pods };
}

/** Sends `full` through `d` (as the link does once the socket took it) and returns the frame. */
function send(d: ReturnType<typeof createStatusDeltas>, full: Status): Status {
  const frame = d.frame(full);
  d.sent(full, frame);
  return frame;
}

describe('status deltas (agent side)', () => {
  it('sends every Status full until a Welcome offers deltas', () => {
    const d = createStatusDeltas();
    send(d, status(1, [pod('a')]));
    expect(send(d, status(2, [pod('a')])).delta).toBeUndefined();
    d.configure(null);
    send(d, status(3, [pod('a')]));
    expect(send(d, status(4, [pod('a')])).delta).toBeUndefined();
  });

  it('sends only what changed over the previous Status, and a full one every N', () => {
    const d = createStatusDeltas();
    d.configure(3);
    expect(send(d, status(1, [pod('a'), pod('b')])).delta).toBeUndefined();
    expect(send(d, status(2, [pod('a'), pod('b')]))).toEqual({
      seq: 2,
      atMs: T + 2,
      gpuSamples: [],
      podStates: [],
      delta: { baseSeq: 1, gonePods: [] },
    });
    expect(send(d, status(3, [pod('a'), pod('c')], 9))).toEqual({
      seq: 3,
      atMs: T + 3,
      gpuSamples: [sample(9)],
      podStates: [pod('c')],
      delta: { baseSeq: 2, gonePods: ['b'] },
    });
    // The third after a full one is full again.
    expect(send(d, status(4, [pod('a'), pod('c')], 9)).podStates).toHaveLength(2);
    expect(send(d, status(5, [pod('a', 'exited'), pod('c')], 9)).podStates).toEqual([pod('a', 'exited')]);
  });

  it('a frame not sent leaves no base: the next Status is full', () => {
    const d = createStatusDeltas();
    d.configure(10);
    send(d, status(1, [pod('a')]));
    d.frame(status(2, [pod('a')]));
    d.reset();
    expect(send(d, status(3, [pod('a')])).delta).toBeUndefined();
  });

  it('a reconnect starts full: a new connection has no base until its own first Status', () => {
    const d = createStatusDeltas();
    d.configure(10);
    send(d, status(1, [pod('a')]));
    expect(send(d, status(2, [pod('a')])).delta).toBeDefined();
    // The link calls configure(null) when it dials, and configure(n) again on the Welcome.
    d.configure(null);
    d.configure(10);
    expect(send(d, status(3, [pod('a')])).delta).toBeUndefined();
  });

  it('recovers from a lost or reordered delta: the allocator asks, the next Status is full', () => {
    const d = createStatusDeltas();
    d.configure(10);
    let view: StatusView | null = null;
    const apply = (s: Status) => {
      const step = applyStatus(view, s, T);
      view = step.kind === 'applied' ? step.view : null;
      return step;
    };
    apply(send(d, status(1, [pod('a'), pod('b')])));
    // Delta 2 (b exited) is lost on the way; delta 3 builds on it.
    send(d, status(2, [pod('a'), pod('b', 'exited')]));
    const three = send(d, status(3, [pod('a'), pod('b', 'exited'), pod('c')]));
    expect(apply(three).kind).toBe('gap');
    // Delta 4 was already in flight when the Ack of 3 said "want full": a gap too, and its own
    // "want full" must not cost a second full Status after the one that answers both.
    const four = send(d, status(4, [pod('a'), pod('b', 'exited'), pod('c')]));
    expect(apply(four).kind).toBe('gap');
    d.wantFull(3);
    const five = send(d, status(5, [pod('a'), pod('b', 'exited'), pod('c')]));
    expect(five.delta).toBeUndefined();
    d.wantFull(4);
    const six = send(d, status(6, [pod('a'), pod('b', 'exited'), pod('c')]));
    expect(six.delta).toEqual({ baseSeq: 5, gonePods: [] });
    const step = apply(five);
    expect(step.kind === 'applied' && step.merged.podStates.map((p) => `${p.podId}:${p.state}`)).toEqual([
      'a:running',
      'b:exited',
      'c:running',
    ]);
    expect(apply(six).kind).toBe('applied');
  });
});
