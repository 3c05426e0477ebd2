/**
 * The executor of enforcement: on every GPU sample it runs the pure decisions (memory limits first,
 * then dynamic-fraction reclaim) and carries them out through the runner (`PodControl`) and the swap
 * pool, turning each action into an event and a counter. It also keeps the time-slicer's tenants and
 * their activity current, swaps pods out on request, and swaps pods back in, making room by swapping
 * idle tenants out. It keeps every count of what it did, reclaims by outcome included.
 *
 * Deduplication: a pod has at most one action in flight. A pod being killed is not killed again by
 * the next samples (which still list its processes until it has exited), and stays "in flight" until
 * the runner no longer reports it live; a kill that fails is forgotten, so a later sample retries it.
 *
 * Latency from an over-limit sample to the kill: the decision and the `kill` call run synchronously
 * in `onSample`, so the delay added here is the decision's CPU time (microseconds for a node's pods;
 * the test measures it on the injected clock and bounds it on the real one). End to end, the bound is
 * the sampling interval (when the overuse falls in it) plus the stream's delivery and this.
 */
import { withDefaults } from '../../common/options.ts';
import type { GpuSample } from '../gpu/driver.ts';
import { decideReclaim } from './dynamic-fractions.ts';
import { decideMemoryLimits } from './memory-limit.ts';
import { pickIdleVictims, type SwapOutcome, type SwapPool } from './swap.ts';
import type { GpuTenants, TimeSlicer } from './time-slice.ts';
import {
  controlFailure,
  type EnforceAction,
  type EnforcedPod,
  type EnforceEvent,
  type GpuCapacity,
  LIVE_STATES,
  type PodControl,
} from './types.ts';
import { indexUsage, type UsageIndex } from './usage.ts';

/** Options of `createEnforcer`. */
export interface EnforcerOptions {
  /** The runner's pods, read on every sample. */
  pods: () => EnforcedPod[];
  control: PodControl;
  /** When given, reclaim swaps borrowers out instead of killing them. */
  swap?: SwapPool;
  gpuTotals: readonly GpuCapacity[];
  /** When given, its tenants and their activity are updated from every sample. */
  slicer?: TimeSlicer;
  onEvent: (e: EnforceEvent) => void;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Whether a pod was busy in this sample. Default: some GPU it holds memory on shows utilization
   * above 0. With several tenants on a GPU that marks them all busy: the safe side, as a busy pod
   * must never be taken for idle and swapped out. Pass per-process activity where it is measured.
   */
  isActive?: (pod: EnforcedPod, sample: GpuSample) => boolean;
  /** A tenant idle this long may be swapped out to make room. Default 60000 ms. */
  idleWindowMs?: number;
  /** An action that failed (a kill rejected or answered a failed Result); retried on a later sample. */
  onError?: (podId: string, error: unknown) => void;
}

/** Counters for metrics, monotonic since start. */
export interface EnforcerCounters {
  oomKills: number;
  /** Dynamic-fraction reclaims, by how the borrowed memory came back: the borrower killed (its swap refused included) or swapped out. */
  reclaimKills: number;
  reclaimSwaps: number;
  /** Every swap-out: reclaims, room made for a swap-in, and those asked for (`swapOut`). */
  swapsOut: number;
  swapsIn: number;
  swapRefusals: number;
  slicePauses: number;
  /** Processes on our GPUs that no pod owns, in the last sample (a gauge). */
  unknownProcesses: number;
  /** Time from an over-limit sample's `atMs` to the `kill` call of its GPU OOM kill. */
  killLatencyLastMs: number | null;
  killLatencyMaxMs: number | null;
}

/** A running enforcer. */
export interface Enforcer {
  onSample(sample: GpuSample): void;
  /** Swaps a live pod out on request, with `reason`; its processes and memory are the latest sample's. */
  swapOut(podId: string, reason: string): Promise<SwapOutcome>;
  /** Restores a swapped-out pod, first swapping idle tenants out where its GPUs lack room. */
  swapIn(podId: string): Promise<SwapOutcome>;
  counters(): EnforcerCounters;
  /** Pods with an action in flight. */
  inFlight(): string[];
}

/** Every enforcer counter at its starting value. */
export function zeroCounters(): EnforcerCounters {
  return {
    oomKills: 0,
    reclaimKills: 0,
    reclaimSwaps: 0,
    swapsOut: 0,
    swapsIn: 0,
    swapRefusals: 0,
    slicePauses: 0,
    unknownProcesses: 0,
    killLatencyLastMs: null,
    killLatencyMaxMs: null,
  };
}

/** Enforcement over `onSample`, acting through `control` and `swap`. */
export function createEnforcer(options: EnforcerOptions): Enforcer {
  // The defaults its fields document, filled in once.
  const opts = withDefaults(options, { now: Date.now, idleWindowMs: 60_000, isActive: busyGpu });
  const { now, idleWindowMs, isActive } = opts;
  const c = zeroCounters();
  /** podId -> whether its kill has settled (then it stays until the runner stops reporting it live). */
  const killing = new Map<string, boolean>();
  const swapping = new Set<string>();
  const lastActiveMs = new Map<string, number>();
  /** The latest sample as decided on; `raw` as the runner reported its pods then, before `view`. */
  let last: { sample: GpuSample; usage: UsageIndex; pods: EnforcedPod[]; raw: EnforcedPod[] } | null = null;

  const emit = (e: EnforceEvent): void => opts.onEvent({ ...e, atMs: now() });
  const busy = (podId: string): boolean => killing.has(podId) || swapping.has(podId);

  /** The runner's pods, with those in the swap pool marked swapped-out whatever the runner says. */
  const view = (raw: EnforcedPod[]): EnforcedPod[] =>
    raw.map((p) =>
      opts.swap?.has(p.podId) && LIVE_STATES.has(p.state) ? { ...p, state: 'swapped-out' } : p,
    );

  const kill = (a: EnforceAction, sampleAtMs: number, kind: 'oomKills' | 'reclaimKills'): void => {
    // sampleAtMs only times GPU OOM kills: a reclaim kill after a refused swap waited on the pool.
    if (busy(a.podId)) return;
    killing.set(a.podId, false);
    // Out of the slicer first: it thaws the pod (a frozen process cannot act on a SIGTERM, should
    // the kill be graceful) and sends no further quanta to a pod that is going away.
    opts.slicer?.removePod(a.podId);
    c[kind]++;
    if (kind === 'oomKills') {
      const latency = now() - sampleAtMs;
      c.killLatencyLastMs = latency;
      c.killLatencyMaxMs = Math.max(c.killLatencyMaxMs ?? 0, latency);
    }
    emit(a.event);
    const failed = (error: unknown): void => {
      killing.delete(a.podId);
      opts.onError?.(a.podId, error);
    };
    opts.control.kill(a.podId, a.event.reason).then((r) => {
      const failure = controlFailure(r);
      if (failure === null) killing.set(a.podId, true);
      else failed(failure);
    }, failed);
  };

  /**
   * `reclaim`: the swap-out is a dynamic-fraction reclaim (else it makes room for a swap-in). It counts
   * as one, and on refusal the borrower is killed: it must give the memory back one way or the other.
   */
  const swapOut = (
    a: EnforceAction,
    usage: UsageIndex,
    sample: GpuSample,
    pods: EnforcedPod[],
    reclaim: boolean,
  ): Promise<SwapOutcome> => {
    const pool = opts.swap!;
    const pod = pods.find((p) => p.podId === a.podId);
    if (pod === undefined || !LIVE_STATES.has(pod.state))
      return Promise.resolve({ ok: false, reason: `pod ${a.podId} is not live on this node` });
    if (busy(a.podId))
      return Promise.resolve({
        ok: false,
        reason: `pod ${a.podId} is being acted on by enforcement (a kill or swap); try again`,
      });
    swapping.add(a.podId);
    opts.slicer?.removePod(a.podId);
    const onGpu = new Set(pod.pids);
    const gpuPids = [...new Set(sample.processes.filter((r) => onGpu.has(r.pid)).map((r) => r.pid))];
    const perGpu = Object.fromEntries(usage.byPod.get(a.podId) ?? new Map<string, number>());
    const usedMiB = Object.values(perGpu).reduce((s, m) => s + m, 0);
    return pool
      .swapOut({ podId: a.podId, pids: gpuPids }, usedMiB, a.event.reason, perGpu)
      .then((outcome) => {
        swapping.delete(a.podId);
        if (outcome.ok) {
          c.swapsOut++;
          if (reclaim) c.reclaimSwaps++;
          emit(a.event);
          return outcome;
        }
        c.swapRefusals++;
        emit({ ...a.event, kind: 'swap-refused', reason: outcome.reason });
        if (!reclaim) return outcome;
        // The neighbour still needs its request: without swap, the borrower gives it back the other way.
        const reason = `${a.event.reason}; swap refused (${outcome.reason}), killed instead`;
        kill(
          { action: 'kill', podId: a.podId, event: { ...a.event, kind: 'reclaim-kill', reason } },
          sample.atMs,
          'reclaimKills',
        );
        return outcome;
      })
      .catch((error: unknown): SwapOutcome => {
        // The pool's control threw instead of answering a Result: free the pod for a later sample.
        swapping.delete(a.podId);
        opts.onError?.(a.podId, error);
        return { ok: false, reason: `swap-out of pod ${a.podId} failed: ${String(error)}` };
      });
  };

  const updateSlicer = (pods: EnforcedPod[], activeNow: Set<string>): void => {
    if (opts.slicer === undefined) return;
    const byGpu = new Map<string, GpuTenants>();
    for (const p of pods) {
      if (!LIVE_STATES.has(p.state) || busy(p.podId)) continue;
      for (const g of p.grants) {
        let entry = byGpu.get(g.uuid);
        if (entry === undefined) {
          entry = { gpuUuid: g.uuid, tenants: [] };
          byGpu.set(g.uuid, entry);
        }
        entry.tenants.push({ podId: p.podId, gpuMilli: g.gpuMilli, active: activeNow.has(p.podId) });
      }
    }
    opts.slicer.update([...byGpu.values()]);
  };

  const api: Enforcer = {
    onSample(sample) {
      const raw = opts.pods();
      const pods = view(raw);
      // A pod that ended while swapped out took its host memory with it.
      for (const e of opts.swap?.entries() ?? []) {
        const p = raw.find((r) => r.podId === e.podId);
        if (p === undefined || (!LIVE_STATES.has(p.state) && p.state !== 'swapped-out'))
          opts.swap?.forget(e.podId);
      }
      const liveIds = new Set(pods.filter((p) => LIVE_STATES.has(p.state)).map((p) => p.podId));
      for (const [podId, settled] of killing) if (settled && !liveIds.has(podId)) killing.delete(podId);

      const memory = decideMemoryLimits(sample, pods);
      c.unknownProcesses = memory.unknown.length;
      for (const a of memory.actions) kill(a, sample.atMs, 'oomKills');

      const leaving = new Set([...killing.keys(), ...swapping]);
      const reclaim = decideReclaim(sample, pods, opts.gpuTotals, opts.swap !== undefined, leaving);
      const usage = indexUsage(sample, pods);
      for (const a of reclaim.actions) {
        if (a.action === 'kill') kill(a, sample.atMs, 'reclaimKills');
        else void swapOut(a, usage, sample, pods, true);
      }

      const activeNow = new Set<string>();
      for (const p of pods) {
        if (!LIVE_STATES.has(p.state)) continue;
        // A pod first seen counts as active then, so it gets a full idle window before it can be a victim.
        if (isActive(p, sample) || !lastActiveMs.has(p.podId)) {
          lastActiveMs.set(p.podId, sample.atMs);
          activeNow.add(p.podId);
        }
      }
      for (const podId of lastActiveMs.keys())
        if (!pods.some((p) => p.podId === podId)) lastActiveMs.delete(podId);
      updateSlicer(pods, activeNow);
      last = { sample, usage, pods, raw };
    },

    async swapOut(podId, reason) {
      if (opts.swap === undefined) return { ok: false, reason: 'swap is not enabled on this node' };
      // No sample yet: nothing says which of its processes hold GPU memory.
      if (last === null)
        return { ok: false, reason: `no GPU sample yet to swap pod ${podId} out by; try again` };
      if (opts.swap.has(podId)) return { ok: false, reason: `pod ${podId} is already swapped out` };
      const { usage, sample, raw } = last;
      const perGpu = usage.byPod.get(podId) ?? new Map<string, number>();
      const usedMiB = [...perGpu.values()].reduce((a, b) => a + b, 0);
      const event: EnforceEvent = { atMs: 0, kind: 'swap-out', podId, reason, usedMiB };
      // The pool as it is now, not as it was at the sample: the pod may have been swapped in since.
      return swapOut({ action: 'swap-out', podId, event }, usage, sample, view(raw), false);
    },

    async swapIn(podId) {
      const pool = opts.swap;
      if (pool === undefined) return { ok: false, reason: 'swap is not enabled on this node' };
      const entry = pool.entries().find((e) => e.podId === podId);
      if (entry === undefined) return { ok: false, reason: `pod ${podId} is not swapped out` };
      for (const [gpuUuid, needMiB] of Object.entries(entry.perGpuMiB)) {
        const room = await makeRoom(gpuUuid, needMiB, podId);
        if (!room.ok) {
          c.swapRefusals++;
          emit({ atMs: 0, kind: 'swap-refused', podId, gpuUuid, reason: room.reason });
          return room;
        }
      }
      const outcome = await pool.swapIn(podId);
      if (outcome.ok) {
        c.swapsIn++;
        emit({
          atMs: 0,
          kind: 'swap-in',
          podId,
          reason: `pod ${podId} restored from the swap pool`,
          usedMiB: entry.usedMiB,
        });
      } else {
        c.swapRefusals++;
        emit({ atMs: 0, kind: 'swap-refused', podId, reason: outcome.reason });
      }
      return outcome;
    },

    counters: () => ({ ...c, slicePauses: opts.slicer?.stats().pauses ?? 0 }),
    inFlight: () => [...new Set([...killing.keys(), ...swapping])].sort(),
  };

  /** Frees `needMiB` on a GPU for `forPod` by swapping out its idle tenants, least recently active first. */
  const makeRoom = async (gpuUuid: string, needMiB: number, forPod: string): Promise<SwapOutcome> => {
    // No sample yet: nothing to measure room against; the restore itself will tell.
    if (last === null) return { ok: true };
    const { usage, pods, sample } = last;
    const cap = opts.gpuTotals.find((g) => g.uuid === gpuUuid);
    const totalMiB = cap?.totalMiB ?? sample.gpus.find((g) => g.uuid === gpuUuid)?.memoryTotalMiB ?? null;
    if (totalMiB === null) return { ok: true };
    const freeMiB = totalMiB - (cap?.reservedMiB ?? 0) - (usage.byGpu.get(gpuUuid) ?? 0);
    if (freeMiB >= needMiB) return { ok: true };
    const candidates = pods
      .filter(
        (p) => p.podId !== forPod && LIVE_STATES.has(p.state) && !busy(p.podId) && !opts.swap?.has(p.podId),
      )
      .map((p) => ({
        podId: p.podId,
        lastActiveMs: lastActiveMs.get(p.podId) ?? now(),
        usedMiB: usage.byPod.get(p.podId)?.get(gpuUuid) ?? 0,
      }));
    const picked = pickIdleVictims(candidates, needMiB - freeMiB, now(), idleWindowMs);
    if (!picked.enough) {
      return {
        ok: false,
        reason:
          `not enough room on ${gpuUuid} to swap in pod ${forPod}: it needs ${needMiB} MiB, ` +
          `${Math.max(0, freeMiB)} MiB is free and idle tenants hold only ${picked.freedMiB} MiB`,
      };
    }
    for (const v of picked.victims) {
      const reason = `swapped out to make room for pod ${forPod} on ${gpuUuid}: idle for ${now() - v.lastActiveMs} ms`;
      const event: EnforceEvent = {
        atMs: 0,
        kind: 'swap-out',
        podId: v.podId,
        gpuUuid,
        reason,
        usedMiB: v.usedMiB,
      };
      const out = await swapOut({ action: 'swap-out', podId: v.podId, event }, usage, sample, pods, false);
      if (!out.ok)
        return { ok: false, reason: `could not swap out idle pod ${v.podId} to make room: ${out.reason}` };
    }
    return { ok: true };
  };

  return api;
}

/** Default activity: some GPU the pod holds memory on was busy in the sample. */
function busyGpu(pod: EnforcedPod, sample: GpuSample): boolean {
  const pids = new Set(pod.pids);
  const gpus = new Set(sample.processes.filter((r) => pids.has(r.pid)).map((r) => r.gpuUuid));
  return sample.gpus.some((g) => gpus.has(g.uuid) && (g.utilizationPct ?? 0) > 0);
}
