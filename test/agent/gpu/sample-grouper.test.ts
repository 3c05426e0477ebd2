import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GpuSample, GpuSampleRow, ProcessSampleRow } from '../../../agent/gpu/driver.ts';
import { SampleGrouper } from '../../../agent/gpu/sample-grouper.ts';

function gpu(index: number, memoryUsedMiB = 0): GpuSampleRow {
  return {
    index,
    uuid: `GPU-${index}`,
    utilizationPct: 0,
    memoryUsedMiB,
    memoryTotalMiB: 81559,
    temperatureC: 40,
    powerDrawW: 70,
  };
}

function proc(gpuIndex: number, pid: number, usedMemoryMiB = 100): ProcessSampleRow {
  return { gpuUuid: `GPU-${gpuIndex}`, pid, usedMemoryMiB };
}

describe('SampleGrouper', () => {
  let samples: GpuSample[];
  let grouper: SampleGrouper;

  beforeEach(() => {
    vi.useFakeTimers();
    samples = [];
    grouper = new SampleGrouper({
      intervalMs: 100,
      quietMs: 20,
      now: () => Date.now(),
      emit: (s) => samples.push(s),
    });
  });

  afterEach(() => {
    grouper.close();
    vi.useRealTimers();
  });

  /** One interval of the GPU stream: a burst of n lines, then the rest of the interval. */
  function round(n: number, used = 0): void {
    for (let i = 0; i < n; i++) grouper.gpuLine(gpu(i, used));
  }

  it('ends the first round after a quiet gap, and later rounds on their last line', () => {
    round(4);
    expect(samples).toHaveLength(0);
    vi.advanceTimersByTime(20);
    expect(samples).toHaveLength(1);
    vi.advanceTimersByTime(80);
    round(4, 7);
    // Learned the 4 GPUs: no wait for a quiet gap.
    expect(samples).toHaveLength(2);
    expect(samples[1]?.gpus.map((g) => [g.index, g.memoryUsedMiB])).toEqual([
      [0, 7],
      [1, 7],
      [2, 7],
      [3, 7],
    ]);
  });

  it('starts a new round when an index repeats before the quiet gap', () => {
    grouper.gpuLine(gpu(0));
    grouper.gpuLine(gpu(1));
    grouper.gpuLine(gpu(0));
    expect(samples).toHaveLength(1);
    expect(samples[0]?.gpus).toHaveLength(2);
  });

  it('recovers from a first round cut short after one split sample', () => {
    grouper.gpuLine(gpu(0));
    grouper.gpuLine(gpu(1));
    vi.advanceTimersByTime(20); // a slow write split the first burst
    grouper.gpuLine(gpu(2));
    grouper.gpuLine(gpu(3));
    vi.advanceTimersByTime(80);
    samples.length = 0;
    for (let r = 0; r < 3; r++) {
      round(4);
      vi.advanceTimersByTime(100);
    }
    expect(samples.map((s) => s.gpus.length)).toEqual([4, 4, 4]);
  });

  it('still delivers rounds when a GPU falls off the bus, after the quiet gap', () => {
    round(2);
    vi.advanceTimersByTime(100);
    round(2);
    vi.advanceTimersByTime(100);
    samples.length = 0;
    grouper.gpuLine(gpu(0));
    vi.advanceTimersByTime(20);
    expect(samples.map((s) => s.gpus.map((g) => g.index))).toEqual([[0]]);
  });

  it('attaches the latest process burst to each sample', () => {
    grouper.appsLine(proc(0, 11));
    grouper.appsLine(proc(1, 12));
    vi.advanceTimersByTime(30);
    round(2);
    vi.advanceTimersByTime(20);
    expect(samples[0]?.processes.map((p) => p.pid)).toEqual([11, 12]);
    // Next interval: pid 12 exited, so its burst has only pid 11.
    vi.advanceTimersByTime(50);
    grouper.appsLine(proc(0, 11));
    vi.advanceTimersByTime(30);
    round(2);
    expect(samples[1]?.processes.map((p) => p.pid)).toEqual([11]);
  });

  it('uses a burst still arriving, and a repeated gpu/pid ends the previous one', () => {
    grouper.appsLine(proc(0, 11));
    grouper.appsLine(proc(0, 11, 500));
    round(1);
    vi.advanceTimersByTime(20);
    expect(samples[0]?.processes).toEqual([proc(0, 11, 500)]);
  });

  it('reports no processes once the apps stream has been silent for two intervals', () => {
    grouper.appsLine(proc(0, 11));
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(60);
      round(1);
      vi.advanceTimersByTime(40);
    }
    expect(samples.map((s) => s.processes.length)).toEqual([1, 1, 0, 0]);
  });

  /** A first GPU round delivered, then the grouper between rounds; the samples so far dropped. */
  function afterFirstRound(n = 2, used = 7): void {
    round(n, used);
    vi.advanceTimersByTime(20);
    samples.length = 0;
  }

  it('delivers a burst with a new pid at once, with the latest GPU rows, not at the next round', () => {
    afterFirstRound();
    vi.advanceTimersByTime(10);
    grouper.appsLine(proc(0, 11, 5000));
    grouper.appsLine(proc(1, 11, 10));
    expect(samples).toHaveLength(0);
    vi.advanceTimersByTime(20); // the burst's quiet gap: 50 ms before the next GPU round is due
    expect(samples).toHaveLength(1);
    expect(samples[0]?.atMs).toBe(Date.now());
    expect(samples[0]?.gpus.map((g) => [g.index, g.memoryUsedMiB])).toEqual([
      [0, 7],
      [1, 7],
    ]);
    expect(samples[0]?.processes).toEqual([proc(0, 11, 5000), proc(1, 11, 10)]);
    // The next round still comes on its own clock, with the same processes.
    vi.advanceTimersByTime(50);
    round(2, 8);
    expect(samples).toHaveLength(2);
    expect(samples[1]?.processes.map((p) => p.pid)).toEqual([11, 11]);
  });

  it('delivers a burst whose memory moved at once, and none for a burst that repeats the last', () => {
    afterFirstRound(1);
    grouper.appsLine(proc(0, 11, 100));
    vi.advanceTimersByTime(20);
    expect(samples.map((s) => s.processes)).toEqual([[proc(0, 11, 100)]]);
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(80);
      grouper.appsLine(proc(0, 11, 100)); // steady: the GPU rounds alone deliver it
      vi.advanceTimersByTime(20);
    }
    expect(samples).toHaveLength(1);
    grouper.appsLine(proc(0, 11, 4200));
    vi.advanceTimersByTime(20);
    expect(samples.map((s) => s.processes)).toEqual([[proc(0, 11, 100)], [proc(0, 11, 4200)]]);
  });

  it('sends at most one extra sample per burst, also when a GPU round took part of it', () => {
    afterFirstRound(1);
    grouper.appsLine(proc(0, 11));
    round(1); // a round lands mid-burst: it carries the burst as it stands
    grouper.appsLine(proc(0, 12));
    grouper.appsLine(proc(0, 13));
    expect(samples.map((s) => s.processes.map((p) => p.pid))).toEqual([[11]]);
    vi.advanceTimersByTime(20);
    expect(samples.map((s) => s.processes.map((p) => p.pid))).toEqual([[11], [11, 12, 13]]);
    vi.advanceTimersByTime(1000);
    expect(samples).toHaveLength(2);
  });

  it('sends no extra sample for a pid that vanished, nor before the first GPU round', () => {
    grouper.appsLine(proc(0, 11));
    grouper.appsLine(proc(0, 12));
    vi.advanceTimersByTime(20);
    expect(samples).toHaveLength(0);
    round(1);
    vi.advanceTimersByTime(20);
    expect(samples.map((s) => s.processes.map((p) => p.pid))).toEqual([[11, 12]]);
    vi.advanceTimersByTime(60);
    grouper.appsLine(proc(0, 11)); // pid 12 exited: less memory in use is no reason to hurry
    vi.advanceTimersByTime(20);
    expect(samples).toHaveLength(1);
    round(1);
    expect(samples[1]?.processes.map((p) => p.pid)).toEqual([11]);
  });

  it('stamps samples with the clock and keeps one pid on several GPUs apart', () => {
    grouper.appsLine(proc(0, 5));
    grouper.appsLine(proc(1, 5));
    round(2);
    vi.advanceTimersByTime(20);
    expect(samples[0]?.atMs).toBe(Date.now());
    expect(samples[0]?.processes).toHaveLength(2);
  });
});
