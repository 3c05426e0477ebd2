/**
 * Time-slicing real processes: two busy loops sliced strict 50/50 on a 200 ms cycle for ~3 s; each
 * one's share is measured from its own CPU time in /proc/<pid>/stat. First as bare process groups
 * frozen by SIGSTOP/SIGCONT (the process runtime's fallback without cgroups), then as pods of the
 * runner and the process runtime, frozen by their cgroup's freezer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createTimeSlicer } from '../../../agent/enforce/time-slice.ts';
import type { PodControl } from '../../../agent/enforce/types.ts';
import { type Harness, harness, launched, podSpec } from '../runner/helpers.ts';

/** utime + stime (clock ticks) and the state letter; fields counted after the `(comm)` parenthesis. */
function stat(pid: number): { cpuTicks: number; state: string } {
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return { state: rest[0] ?? '?', cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid, 'SIGCONT');
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // Already gone: nothing left to clean up.
    }
  }
});

describe.skipIf(process.platform !== 'linux')('time-slicing real processes', () => {
  it('process groups: strict 50/50 holds each busy loop near half of their CPU time, and leaves none stopped', async () => {
    const pids = new Map<string, number>();
    for (const podId of ['a', 'b']) {
      const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { detached: true, stdio: 'ignore' });
      children.push(child);
      pids.set(podId, child.pid!);
    }
    const control: PodControl = {
      kill: async () => {},
      freeze: (podId, frozen) => process.kill(-pids.get(podId)!, frozen ? 'SIGSTOP' : 'SIGCONT'),
      pidsOf: (podId) => [pids.get(podId)!],
    };
    // Let both finish starting up, so start-up CPU is not counted in the shares.
    await sleep(300);
    const before = { a: stat(pids.get('a')!).cpuTicks, b: stat(pids.get('b')!).cpuTicks };
    const startMs = Date.now();
    const slicer = createTimeSlicer({ control, mode: 'strict', cycleMs: 200 });
    slicer.update([
      {
        gpuUuid: 'GPU-0',
        tenants: [
          { podId: 'a', gpuMilli: 500, active: true },
          { podId: 'b', gpuMilli: 500, active: true },
        ],
      },
    ]);
    slicer.start();
    await sleep(3000);
    slicer.stop();
    const wallMs = Date.now() - startMs;
    const a = stat(pids.get('a')!).cpuTicks - before.a;
    const b = stat(pids.get('b')!).cpuTicks - before.b;

    const total = a + b;
    expect(a / total).toBeGreaterThan(0.35);
    expect(a / total).toBeLessThan(0.65);
    expect(b / total).toBeGreaterThan(0.35);
    expect(b / total).toBeLessThan(0.65);
    // They took turns: together about one core over the run, not two (ticks are 10 ms at USER_HZ 100).
    expect(total * 10).toBeLessThan(wallMs * 1.3);
    expect(slicer.stats().pauses).toBeGreaterThanOrEqual(20);

    // Nobody is left stopped (T) once the slicer has stopped.
    await sleep(20);
    expect(stat(pids.get('a')!).state).not.toBe('T');
    expect(stat(pids.get('b')!).state).not.toBe('T');
  });
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe.skipIf(process.platform !== 'linux' || process.getuid?.() !== 0)(
  'time-slicing pods by the cgroup freezer',
  () => {
    it('strict 50/50 between two pods of the process runtime holds each near half of their CPU time', async () => {
      h = harness();
      const runner = h.runner;
      const pids = new Map<string, number>();
      for (const podId of ['a', 'b']) {
        const s = await launched(
          runner,
          runner.start(podSpec({ podId, command: [process.execPath, '-e', 'for (;;) {}'] })),
        );
        pids.set(podId, s.pid!);
      }
      await sleep(300);
      const before = { a: stat(pids.get('a')!).cpuTicks, b: stat(pids.get('b')!).cpuTicks };
      const startMs = Date.now();
      const slicer = createTimeSlicer({ control: runner, mode: 'strict', cycleMs: 200 });
      slicer.update([
        {
          gpuUuid: 'GPU-0',
          tenants: [
            { podId: 'a', gpuMilli: 500, active: true },
            { podId: 'b', gpuMilli: 500, active: true },
          ],
        },
      ]);
      slicer.start();
      await sleep(3000);
      slicer.stop();
      const wallMs = Date.now() - startMs;
      const a = stat(pids.get('a')!).cpuTicks - before.a;
      const b = stat(pids.get('b')!).cpuTicks - before.b;
      const total = a + b;
      // Printed for the record: the shares this run measured.
      console.log(
        `cgroup freezer time-slicing: a ${(a / total).toFixed(3)}, b ${(b / total).toFixed(3)}, ${total * 10} ms CPU over ${wallMs} ms`,
      );
      expect(a / total).toBeGreaterThan(0.35);
      expect(a / total).toBeLessThan(0.65);
      expect(total * 10).toBeLessThan(wallMs * 1.3);
      expect(slicer.stats().pauses).toBeGreaterThanOrEqual(20);
      // Both run again once the slicer has stopped: neither is left frozen.
      const after = { a: stat(pids.get('a')!).cpuTicks, b: stat(pids.get('b')!).cpuTicks };
      await sleep(300);
      expect(stat(pids.get('a')!).cpuTicks).toBeGreaterThan(after.a);
      expect(stat(pids.get('b')!).cpuTicks).toBeGreaterThan(after.b);
      for (const podId of ['a', 'b']) await runner.stop(podId, 'test over', 0);
    });
  },
);
