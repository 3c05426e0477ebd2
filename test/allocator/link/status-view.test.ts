import { describe, expect, it } from 'vitest';
import { REPEAT_REPORT_MS } from '../../../allocator/link/reports.ts';
import { applyStatus, type StatusStep, type StatusView } from '../../../allocator/link/status-view.ts';
import type { Status, WireGpuSample, WirePodStatus } from '../../../common/wire.ts';
import { T0 } from '../store/helpers.ts';

function pod(id: string, state: WirePodStatus['state'] = 'running', epoch = 1): WirePodStatus {
  return { podId: id, epoch, state, pid: 100, exitCode: null, signal: null, reason: null, startedAtMs: null };
}

function sample(util: number): WireGpuSample {
  const s = { uuid: 'GPU-0', index: 0, utilizationPct: util, memoryUsedMiB: 1, memoryTotalMiB: 2 };
  return { ...s, temperatureC: null, powerDrawW: null };
}

function full(seq: number, pods: WirePodStatus[], samples: WireGpuSample[] = []): Status {
  return { seq, atMs: T0, gpuSamples: samples, podStates: pods };
}

function delta(seq: number, baseSeq: number, pods: WirePodStatus[], gone: string[] = []): Status {
  return { seq, atMs: T0, gpuSamples: [], podStates: pods, delta: { baseSeq, gonePods: gone } };
}

function applied(step: StatusStep): Extract<StatusStep, { kind: 'applied' }> {
  if (step.kind !== 'applied') throw new Error(`expected applied, got ${step.kind}`);
  return step;
}

describe('status view', () => {
  it('merges deltas into the full Status the rest of the allocator reads', () => {
    const s1 = applied(applyStatus(null, full(1, [pod('a'), pod('b')], [sample(5)]), T0));
    expect(s1.handle.map((r) => r.podId)).toEqual(['a', 'b']);
    // b ended, c started, a unchanged and not sent.
    const s2 = applied(applyStatus(s1.view, delta(2, 1, [pod('b', 'exited'), pod('c')]), T0 + 1));
    expect(s2.handle.map((r) => `${r.podId}:${r.state}`)).toEqual(['b:exited', 'c:running']);
    expect(s2.merged.podStates.map((r) => `${r.podId}:${r.state}`)).toEqual([
      'a:running',
      'b:exited',
      'c:running',
    ]);
    // Empty samples in a delta: unchanged, so the merged Status still carries the last ones.
    expect(s2.merged.gpuSamples).toEqual([sample(5)]);
    const s3 = applied(applyStatus(s2.view, delta(3, 2, [], ['b']), T0 + 2));
    expect(s3.handle).toEqual([]);
    expect(s3.merged.podStates.map((r) => r.podId)).toEqual(['a', 'c']);
    expect(s3.merged.seq).toBe(3);
  });

  it('a delta whose base is not the last Status applied is a gap; a full Status ends it', () => {
    const s1 = applied(applyStatus(null, full(1, [pod('a')]), T0));
    // Status 2 never arrived (or came out of order): 3 builds on it.
    const gap = applyStatus(s1.view, delta(3, 2, [pod('b')]), T0 + 1);
    expect(gap).toEqual({ kind: 'gap', handle: [pod('b')] });
    // With no view (a new session), a delta is a gap too.
    expect(applyStatus(null, delta(4, 3, []), T0 + 2).kind).toBe('gap');
    const s5 = applied(applyStatus(null, full(5, [pod('a'), pod('b')]), T0 + 3));
    expect(s5.merged.podStates.map((r) => r.podId)).toEqual(['a', 'b']);
    expect(applied(applyStatus(s5.view, delta(6, 5, []), T0 + 4)).merged.podStates).toHaveLength(2);
  });

  it('skips identical repeats but passes one on again after REPEAT_REPORT_MS, full or delta', () => {
    let view: StatusView = applied(applyStatus(null, full(1, [pod('a')]), T0)).view;
    const again = applied(applyStatus(view, full(2, [pod('a')]), T0 + 1000));
    expect(again).toMatchObject({ handle: [], repeated: 1 });
    view = again.view;
    const late = applied(applyStatus(view, full(3, [pod('a')]), T0 + REPEAT_REPORT_MS));
    expect(late.handle).toEqual([pod('a')]);
    // A pid change alone is no new report (reportKey), in a delta as in a full Status.
    const pid = applied(
      applyStatus(late.view, delta(4, 3, [{ ...pod('a'), pid: 7 }]), T0 + REPEAT_REPORT_MS + 1),
    );
    expect(pid).toMatchObject({ handle: [], repeated: 1 });
    expect(pid.merged.podStates[0]?.pid).toBe(7);
  });

  it('a full Status forgets pods it no longer lists and keeps samples when it has none', () => {
    const s1 = applied(applyStatus(null, full(1, [pod('a'), pod('b')], [sample(1)]), T0));
    const s2 = applied(applyStatus(s1.view, full(2, [pod('b')]), T0 + 1));
    expect([...s2.view.pods.keys()]).toEqual(['b']);
    expect(s2.view.samples.materialize()).toEqual([sample(1)]);
    // The full Status itself goes on, as before deltas: an empty list reads "nothing new" downstream.
    expect(s2.merged.gpuSamples).toEqual([]);
    const s3 = applied(applyStatus(s2.view, delta(3, 2, [pod('a')]), T0 + 2));
    expect(s3.handle).toEqual([pod('a')]);
  });
});
