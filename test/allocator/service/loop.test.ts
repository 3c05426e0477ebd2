import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCycleLoop } from '../../../allocator/service/loop.ts';
import { createLogger } from '../../../common/log.ts';

const COALESCE_MS = 50;
const PERIODIC_MS = 1000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A loop over a counting run, with its log lines parsed. */
function counting(run: () => void = () => {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ stream: { write: (l: string) => lines.push(JSON.parse(l)) }, now: () => 0 });
  let runs = 0;
  const loop = createCycleLoop(
    () => {
      runs += 1;
      run();
    },
    { coalesceMs: COALESCE_MS, periodicMs: PERIODIC_MS, log, clock: () => 0 },
  );
  return { loop, lines, runs: () => runs };
}

describe('createCycleLoop', () => {
  it('coalesces many requests within coalesceMs into one cycle', () => {
    const t = counting();
    for (let i = 0; i < 100; i++) t.loop.request();
    vi.advanceTimersByTime(COALESCE_MS - 1);
    expect(t.runs()).toBe(0);
    t.loop.request();
    vi.advanceTimersByTime(1);
    expect(t.runs()).toBe(1);
    // A request after the cycle ran asks for a new one.
    t.loop.request();
    vi.advanceTimersByTime(COALESCE_MS);
    expect(t.runs()).toBe(2);
    t.loop.close();
  });

  it('runs a cycle every periodicMs without any request', () => {
    const t = counting();
    vi.advanceTimersByTime(PERIODIC_MS + COALESCE_MS - 1);
    expect(t.runs()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(t.runs()).toBe(1);
    vi.advanceTimersByTime(3 * PERIODIC_MS);
    expect(t.runs()).toBe(4);
    t.loop.close();
  });

  it('logs a throwing cycle and keeps scheduling', () => {
    let fail = true;
    const t = counting(() => {
      if (fail) throw new Error('database is locked');
    });
    t.loop.request();
    vi.advanceTimersByTime(COALESCE_MS);
    expect(t.lines).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'scheduling cycle failed',
        error: 'database is locked',
      }),
    ]);
    fail = false;
    t.loop.request();
    vi.advanceTimersByTime(COALESCE_MS);
    expect(t.runs()).toBe(2);
    vi.advanceTimersByTime(PERIODIC_MS + COALESCE_MS);
    expect(t.runs()).toBe(3);
    expect(t.lines).toHaveLength(1);
    t.loop.close();
  });

  it('close drops a requested cycle and stops the periodic timer; later requests do nothing', () => {
    const t = counting();
    t.loop.request();
    t.loop.close();
    t.loop.request();
    vi.advanceTimersByTime(10 * PERIODIC_MS);
    expect(t.runs()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
  it('skips periodic ticks while idle, but never a requested cycle', () => {
    let idle = true;
    let runs = 0;
    const loop = createCycleLoop(
      () => {
        runs += 1;
      },
      { coalesceMs: COALESCE_MS, periodicMs: PERIODIC_MS, idle: () => idle, clock: () => 0 },
    );
    vi.advanceTimersByTime(5 * PERIODIC_MS);
    expect(runs).toBe(0);
    loop.request();
    vi.advanceTimersByTime(COALESCE_MS);
    expect(runs).toBe(1);
    idle = false;
    vi.advanceTimersByTime(PERIODIC_MS + COALESCE_MS);
    expect(runs).toBe(2);
    loop.close();
  });

  it('waits twice the last cycle length after it before the next, so cycles take at most a third of the time', () => {
    let now = 0;
    let runs = 0;
    const loop = createCycleLoop(
      () => {
        runs += 1;
        now += 100; // a 100 ms cycle
      },
      { coalesceMs: COALESCE_MS, periodicMs: 60_000, clock: () => now },
    );
    loop.request();
    vi.advanceTimersByTime(COALESCE_MS);
    expect(runs).toBe(1);
    // The cycle ended at now = 100; the next may start 200 ms after that, not 50 ms after the request.
    loop.request();
    vi.advanceTimersByTime(199);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    loop.close();
  });
});
