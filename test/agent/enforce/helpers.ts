/** Builders shared by the enforcement tests: pods, samples, a manual clock, a recording PodControl. */

import type { SetSliceTimer } from '../../../agent/enforce/time-slice.ts';
import type { EnforcedPod, PodControl } from '../../../agent/enforce/types.ts';
import type { GpuSample } from '../../../agent/gpu/driver.ts';
import type { GpuGrant } from '../../../common/resources.ts';

export function grant(uuid: string, memoryMiB: number, memoryLimitMiB = memoryMiB, gpuMilli = 500): GpuGrant {
  return { uuid, gpuMilli, memoryMiB, memoryLimitMiB };
}

export function pod(podId: string, pids: number[], grants: GpuGrant[], priority = 50): EnforcedPod {
  return { podId, priority, grants, state: 'running', pids };
}

/** A sample: `procs` as [gpuUuid, pid, usedMiB]; GPUs of `totalMiB` each, at `utilizationPct`. */
export function sample(
  procs: [string, number, number | null][],
  opts: { atMs?: number; gpus?: string[]; totalMiB?: number; utilizationPct?: number } = {},
): GpuSample {
  const uuids = opts.gpus ?? [...new Set(procs.map(([g]) => g))];
  return {
    atMs: opts.atMs ?? 1000,
    gpus: uuids.map((uuid, index) => ({
      uuid,
      index,
      utilizationPct: opts.utilizationPct ?? 0,
      memoryUsedMiB: null,
      memoryTotalMiB: opts.totalMiB ?? null,
      temperatureC: null,
      powerDrawW: null,
    })),
    processes: procs.map(([gpuUuid, pid, usedMemoryMiB]) => ({ gpuUuid, pid, usedMemoryMiB })),
  };
}

/** Time that moves only when told; timers fire in time order (then creation order) as it passes. */
export function manualClock(startMs = 0): {
  now: () => number;
  setTimer: SetSliceTimer;
  advance(ms: number): void;
} {
  let t = startMs;
  let seq = 0;
  const timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => t,
    setTimer(fn, delayMs) {
      const timer = { at: t + Math.max(0, delayMs), seq: seq++, fn, live: true };
      timers.push(timer);
      return {
        cancel: () => {
          timer.live = false;
        },
      };
    },
    advance(ms) {
      const target = t + ms;
      for (;;) {
        const due = timers
          .filter((x) => x.live && x.at <= target)
          .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (due === undefined) break;
        due.live = false;
        t = due.at;
        due.fn();
      }
      t = target;
    },
  };
}

/** A PodControl that records every call; `kill` resolves when the test says so. */
export function recordingControl(): PodControl & {
  calls: string[];
  /** Every freeze (`frozen: true`) and thaw, in order. */
  freezes: { podId: string; frozen: boolean }[];
  settleKill(podId: string, error?: Error): void;
} {
  const calls: string[] = [];
  const freezes: { podId: string; frozen: boolean }[] = [];
  const pending = new Map<string, { resolve(): void; reject(e: Error): void }>();
  return {
    calls,
    freezes,
    kill(podId, reason) {
      calls.push(`kill ${podId}: ${reason}`);
      return new Promise<void>((resolve, reject) => pending.set(podId, { resolve, reject }));
    },
    freeze(podId, frozen) {
      calls.push(`${frozen ? 'freeze' : 'thaw'} ${podId}`);
      freezes.push({ podId, frozen });
    },
    pidsOf: () => [],
    settleKill(podId, error) {
      const p = pending.get(podId);
      pending.delete(podId);
      if (error === undefined) p?.resolve();
      else p?.reject(error);
    },
  };
}
