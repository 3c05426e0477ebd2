/**
 * Time-slicing: the node-level scheduler's compute share (docs/architecture.md §4). Tenants of one GPU take
 * turns over a cycle: each is thawed at its window's start and frozen at its end (the pod's cgroup
 * freezer, so a process it forked or `setsid` cannot slip out; SIGSTOP/SIGCONT to its group where it
 * has no cgroup), so its kernels are launched only inside its share of every cycle.
 *
 * - `strict`: every tenant, busy or idle, gets exactly its fraction of each cycle, one after the
 *   other; the share of an idle tenant is wasted. A hard cap: a 0.5 pod never gets more than half.
 * - `fair`: only active tenants contend. Their windows split the whole cycle in proportion to their
 *   fractions, so an idle tenant's share flows to the busy ones; a tenant alone and active runs the
 *   whole cycle; with no contention (one active tenant or none) nobody is paused.
 *
 * A tenant with no window (`fair`, idle) is not gated at all: it runs. Stopping it would freeze it
 * at 0% utilization and it could never show the activity that earns it a window; if it wakes up, it
 * runs unchecked for at most one cycle, until the next cycle sees it active.
 *
 * `sliceWindows` is pure (no clock); `createTimeSlicer` turns windows into freezes and thaws on injected timers.
 */
import { withDefaults } from '../../common/options.ts';
import { controlFailure, type EnforceEvent, type PodControl } from './types.ts';

/** How idle share is treated: wasted (`strict`) or handed to the active tenants (`fair`). */
export type SliceMode = 'strict' | 'fair';

/** One tenant of one GPU as the slicer sees it. */
export interface SliceTenant {
  podId: string;
  gpuMilli: number;
  /** Busy in the last sample(s): utilization or CPU above a threshold, as the caller measures it. */
  active: boolean;
}

/** When in each cycle a tenant may run: [offsetMs, offsetMs + durationMs). */
export interface SliceWindow {
  podId: string;
  offsetMs: number;
  durationMs: number;
}

/** The windows of one GPU's tenants over one cycle; a tenant not listed is not gated. */
export function sliceWindows(
  tenants: readonly SliceTenant[],
  mode: SliceMode,
  cycleMs: number,
): SliceWindow[] {
  const sorted = [...tenants].sort((a, b) => (a.podId < b.podId ? -1 : a.podId > b.podId ? 1 : 0));
  if (mode === 'fair') {
    const active = sorted.filter((t) => t.active);
    if (active.length <= 1) return active.map((t) => ({ podId: t.podId, offsetMs: 0, durationMs: cycleMs }));
    return consecutive(active, sumMilli(active), cycleMs);
  }
  // Fractions never sum over 1000 on a GPU; if they ever do, shrink them all rather than overrun.
  return consecutive(sorted, Math.max(1000, sumMilli(sorted)), cycleMs);
}

function sumMilli(ts: readonly SliceTenant[]): number {
  return ts.reduce((s, t) => s + Math.max(0, t.gpuMilli), 0);
}

/** Back-to-back windows of cycleMs x milli / denominator each, rounded down so they fit the cycle. */
function consecutive(ts: readonly SliceTenant[], denominatorMilli: number, cycleMs: number): SliceWindow[] {
  let offsetMs = 0;
  return ts.map((t) => {
    const durationMs = Math.floor((cycleMs * Math.max(0, t.gpuMilli)) / denominatorMilli);
    const w = { podId: t.podId, offsetMs, durationMs };
    offsetMs += durationMs;
    return w;
  });
}

/** Schedules `fn` after `delayMs`; injected so tests drive time by hand. */
export type SetSliceTimer = (fn: () => void, delayMs: number) => { cancel(): void };

/** The tenants of one GPU and their latest activity. */
export interface GpuTenants {
  gpuUuid: string;
  tenants: SliceTenant[];
}

/** Options of `createTimeSlicer`. */
export interface TimeSlicerOptions {
  control: PodControl;
  mode: SliceMode;
  /** Length of one cycle (`tessera agent --slice-cycle`, 5 s by default). */
  cycleMs: number;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Default: an unref'd `setTimeout`, so the slicer alone never keeps a process alive. */
  setTimer?: SetSliceTimer;
  /** A pod becoming gated (`slice-pause`) or free again (`slice-resume`); not every quantum. */
  onEvent?: (e: EnforceEvent) => void;
  /** A freeze or thaw that failed (the pod is gone or ending); the runner reports the exit itself. */
  onError?: (podId: string, error: unknown) => void;
}

/** Counters of a slicer, for metrics. */
export interface TimeSlicerStats {
  cycles: number;
  pauses: number;
  resumes: number;
  /** Pods stopped right now. */
  stopped: string[];
}

/** A running time-slicer. */
export interface TimeSlicer {
  /** The latest tenants and activity; windows follow from the next cycle, removed pods are let go now. */
  update(gpus: readonly GpuTenants[]): void;
  start(): void;
  /** Ends slicing and thaws every pod it froze: a pod is never left frozen. */
  stop(): void;
  /** Lets one pod go (thawed if frozen): before killing it (a frozen process cannot act on SIGTERM) or swapping it. */
  removePod(podId: string): void;
  stats(): TimeSlicerStats;
}

const realTimer: SetSliceTimer = (fn, delayMs) => {
  const t = setTimeout(fn, Math.max(0, delayMs));
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** Freeze/thaw quanta per GPU over every cycle, from the latest tenants given to `update`. */
export function createTimeSlicer(options: TimeSlicerOptions): TimeSlicer {
  // The defaults its fields document, filled in once.
  const opts = withDefaults(options, { now: Date.now, setTimer: realTimer });
  const { control, mode, cycleMs, now, setTimer } = opts;
  let gpus: readonly GpuTenants[] = [];
  let running = false;
  let timers: { cancel(): void }[] = [];
  let nextCycle: { cancel(): void } | null = null;
  const stopped = new Set<string>();
  const gated = new Set<string>();
  let cycles = 0;
  let pauses = 0;
  let resumes = 0;

  const send = (podId: string, frozen: boolean): boolean => {
    try {
      const failure = controlFailure(control.freeze(podId, frozen));
      if (failure === null) return true;
      opts.onError?.(podId, failure);
      return false;
    } catch (error) {
      opts.onError?.(podId, error);
      return false;
    }
  };
  const pause = (podId: string): void => {
    if (stopped.has(podId)) return;
    if (send(podId, true)) {
      stopped.add(podId);
      pauses++;
    }
  };
  const resume = (podId: string): void => {
    if (!stopped.has(podId)) return;
    // Forgotten even when the thaw fails: a pod that is gone is not frozen either.
    stopped.delete(podId);
    if (send(podId, false)) resumes++;
  };
  const emit = (
    kind: 'slice-pause' | 'slice-resume',
    podId: string,
    reason: string,
    gpuUuid?: string,
  ): void => {
    const e: EnforceEvent = { atMs: now(), kind, podId, reason };
    if (gpuUuid !== undefined) e.gpuUuid = gpuUuid;
    opts.onEvent?.(e);
  };
  /** A window's end for a pod removed since the cycle began must not freeze it again. */
  const pauseTenant = (podId: string): void => {
    if (gpus.some((g) => g.tenants.some((t) => t.podId === podId))) pause(podId);
  };
  const ungate = (podId: string, reason: string): void => {
    resume(podId);
    if (gated.delete(podId)) emit('slice-resume', podId, reason);
  };

  /** Each pod's window: the intersection of its windows on every GPU it is gated on. */
  const windowsByPod = (): Map<string, { w: SliceWindow; gpuUuid: string }> => {
    const out = new Map<string, { w: SliceWindow; gpuUuid: string }>();
    for (const g of gpus) {
      for (const w of sliceWindows(g.tenants, mode, cycleMs)) {
        if (w.offsetMs === 0 && w.durationMs >= cycleMs) continue;
        const prev = out.get(w.podId);
        if (prev === undefined) {
          out.set(w.podId, { w, gpuUuid: g.gpuUuid });
          continue;
        }
        const start = Math.max(prev.w.offsetMs, w.offsetMs);
        const end = Math.min(prev.w.offsetMs + prev.w.durationMs, w.offsetMs + w.durationMs);
        out.set(w.podId, {
          w: { podId: w.podId, offsetMs: start, durationMs: Math.max(0, end - start) },
          gpuUuid: prev.gpuUuid,
        });
      }
    }
    return out;
  };

  const runCycle = (t0: number): void => {
    for (const t of timers) t.cancel();
    timers = [];
    cycles++;
    const windows = windowsByPod();
    const pods = new Set(gpus.flatMap((g) => g.tenants.map((t) => t.podId)));
    const boundaries = new Map<number, { stops: string[]; conts: string[] }>();
    const boundary = (offsetMs: number): { stops: string[]; conts: string[] } => {
      let b = boundaries.get(offsetMs);
      if (b === undefined) {
        b = { stops: [], conts: [] };
        boundaries.set(offsetMs, b);
      }
      return b;
    };
    for (const podId of [...pods].sort()) {
      const entry = windows.get(podId);
      if (entry === undefined) {
        ungate(podId, `time-slicing lifted: pod ${podId} no longer contends for its GPU (${mode} mode)`);
        continue;
      }
      const { w, gpuUuid } = entry;
      if (!gated.has(podId)) {
        gated.add(podId);
        emit(
          'slice-pause',
          podId,
          `time-sliced (${mode}): pod ${podId} runs ${w.durationMs} ms of every ${cycleMs} ms cycle on ${gpuUuid}`,
          gpuUuid,
        );
      }
      const end = w.offsetMs + w.durationMs;
      if (w.offsetMs > 0 || w.durationMs === 0) boundary(0).stops.push(podId);
      if (w.durationMs > 0) boundary(w.offsetMs).conts.push(podId);
      // A window that reaches the cycle's end is settled by the next cycle: stopping it here only
      // to resume it a moment later would be a wasted pause.
      if (w.durationMs > 0 && end < cycleMs) boundary(end).stops.push(podId);
    }
    // One timer per boundary, stops before continues, so the outgoing tenant is frozen before the
    // incoming one runs: two windows never overlap, even for a moment.
    for (const [offsetMs, b] of [...boundaries].sort((x, y) => x[0] - y[0])) {
      const fire = (): void => {
        for (const podId of b.stops) pauseTenant(podId);
        for (const podId of b.conts) resume(podId);
      };
      if (offsetMs === 0) fire();
      else timers.push(setTimer(fire, t0 + offsetMs - now()));
    }
    // Cycles are laid on t0 + k x cycleMs rather than "now + cycleMs", so timer lateness does not drift.
    const next = t0 + cycleMs;
    nextCycle = setTimer(() => {
      if (running) runCycle(next);
    }, next - now());
  };

  const api: TimeSlicer = {
    update(next) {
      const still = new Set(next.flatMap((g) => g.tenants.map((t) => t.podId)));
      for (const podId of [...stopped, ...gated]) if (!still.has(podId)) api.removePod(podId);
      gpus = next.map((g) => ({ gpuUuid: g.gpuUuid, tenants: g.tenants.map((t) => ({ ...t })) }));
    },
    start() {
      if (running) return;
      running = true;
      runCycle(now());
    },
    stop() {
      running = false;
      nextCycle?.cancel();
      nextCycle = null;
      for (const t of timers) t.cancel();
      timers = [];
      for (const podId of [...stopped].sort()) resume(podId);
      for (const podId of [...gated].sort()) ungate(podId, `time-slicing stopped: pod ${podId} runs freely`);
    },
    removePod(podId) {
      resume(podId);
      gated.delete(podId);
      gpus = gpus.map((g) => ({ gpuUuid: g.gpuUuid, tenants: g.tenants.filter((t) => t.podId !== podId) }));
    },
    stats: () => ({ cycles, pauses, resumes, stopped: [...stopped].sort() }),
  };
  return api;
}
