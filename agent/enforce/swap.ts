/**
 * GPU swap (docs/architecture.md §4): a host-RAM pool per node into which a pod's GPU memory is checkpointed
 * (cuda-checkpoint: lock, checkpoint; later restore, unlock) and from which it is restored.
 *
 * With swap on, a GPU's tenants may together exceed the GPU as long as each fits alone: the idle ones
 * (0% utilization over a window) are swapped out, least recently active first, to make room for the
 * one that is scheduled in, and restored when they are scheduled back in.
 *
 * The pool accounts in MiB of GPU memory held in host RAM. Capacity is reserved before the first
 * checkpoint is awaited, so two swap-outs in flight can never overfill it together. A swap-out is all
 * or nothing over the pod's GPU processes: when one checkpoint fails, the ones already taken are
 * restored, so a pod is never left half on the GPU and half in host memory.
 */
import { type DefaultsOf, withDefaults } from '../../common/options.ts';
import type { SwapControl } from './types.ts';

/** Result of a swap operation; `reason` is the refusal a user reads in the event. */
export type SwapOutcome = { ok: true } | { ok: false; reason: string };

/** The part of a pod a swap needs: its id and the pids that hold GPU memory. */
export interface SwapSubject {
  podId: string;
  pids: readonly number[];
}

/** A pod held in the pool. */
export interface SwapEntry {
  podId: string;
  pids: number[];
  usedMiB: number;
  /** GPU uuid -> MiB the pod held there, so a swap-in knows how much room to make on each GPU. */
  perGpuMiB: Record<string, number>;
  reason: string;
  sinceMs: number;
}

/** Options of `createSwapPool`. */
export interface SwapPoolOptions {
  /** Host RAM set aside for swapped GPU memory. */
  capacityMiB: number;
  control: SwapControl;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Called with every entry after each change the pool makes (a swap-out, a swap-in or its partial
   * progress, a forget), so the agent can keep a durable record: a pod checkpointed when the agent
   * stops stays checkpointed, and only that record tells the next agent to swap it back in. Default
   * none.
   */
  onChange?: (entries: SwapEntry[]) => void;
}

/** The defaults of `SwapPoolOptions`, as its fields document them. */
const SWAP_POOL_DEFAULTS = {
  now: Date.now,
  onChange: () => {},
} as const satisfies DefaultsOf<SwapPoolOptions>;

/** A node's swap pool. */
export interface SwapPool {
  readonly capacityMiB: number;
  /** Checkpoints every pid of the pod into host memory, or refuses with the reason. */
  swapOut(
    pod: SwapSubject,
    usedMiB: number,
    reason: string,
    perGpuMiB?: Readonly<Record<string, number>>,
  ): Promise<SwapOutcome>;
  /** Restores a swapped-out pod onto its GPUs. */
  swapIn(podId: string): Promise<SwapOutcome>;
  /** Drops a pod that ended while swapped out; its host memory went with its processes. */
  forget(podId: string): void;
  /**
   * Takes back an entry a previous agent left checkpointed (its caller verified it first). Never
   * refused for capacity: the memory is in host RAM already, whatever this pool's size; an overfull
   * pool only refuses new swap-outs until enough is swapped in. `onChange` is not called.
   */
  adopt(entry: SwapEntry): void;
  has(podId: string): boolean;
  /** MiB held or reserved. */
  used(): number;
  entries(): SwapEntry[];
}

/** A host-RAM pool of `capacityMiB` that swaps through `control` (a GpuDriver). */
export function createSwapPool(given: SwapPoolOptions): SwapPool {
  const opts = withDefaults(given, SWAP_POOL_DEFAULTS);
  const { now, control, capacityMiB } = opts;
  const held = new Map<string, SwapEntry>();
  // Capacity of swap-outs in flight, and pods moving either way, so a pod is never moved twice at once.
  const reserved = new Map<string, number>();
  const moving = new Set<string>();
  const entries = (): SwapEntry[] =>
    [...held.values()].map((e) => ({ ...e, pids: [...e.pids], perGpuMiB: { ...e.perGpuMiB } }));
  const changed = (): void => opts.onChange(entries());
  const used = (): number => {
    let sum = 0;
    for (const e of held.values()) sum += e.usedMiB;
    for (const m of reserved.values()) sum += m;
    return sum;
  };

  return {
    capacityMiB,
    async swapOut(pod, usedMiB, reason, perGpuMiB = {}) {
      const { podId } = pod;
      if (held.has(podId) || moving.has(podId)) return refuse(`pod ${podId} is already swapped out`);
      if (pod.pids.length === 0) return refuse(`pod ${podId} has no GPU processes to swap out`);
      const inUse = used();
      if (inUse + usedMiB > capacityMiB) {
        return refuse(`swap pool full: ${inUse} of ${capacityMiB} MiB used, pod needs ${usedMiB} MiB`);
      }
      reserved.set(podId, usedMiB);
      moving.add(podId);
      try {
        const support = await control.swapSupport();
        if (!support.ok) return refuse(support.error.message);
        const done: number[] = [];
        for (const pid of pod.pids) {
          const r = await control.checkpoint(pid);
          if (!r.ok) {
            const undo = await restoreAll(control, done.reverse());
            const also = undo === null ? '' : `; rolling back also failed: ${undo}`;
            return refuse(`checkpoint of pid ${pid} (pod ${podId}) failed: ${r.error.message}${also}`);
          }
          done.push(pid);
        }
        held.set(podId, {
          podId,
          pids: [...pod.pids],
          usedMiB,
          perGpuMiB: { ...perGpuMiB },
          reason,
          sinceMs: now(),
        });
        changed();
        return { ok: true };
      } finally {
        reserved.delete(podId);
        moving.delete(podId);
      }
    },
    async swapIn(podId) {
      const entry = held.get(podId);
      if (entry === undefined || moving.has(podId)) return refuse(`pod ${podId} is not swapped out`);
      moving.add(podId);
      const before = entry.pids.length;
      try {
        while (entry.pids.length > 0) {
          const pid = entry.pids[0]!;
          const r = await control.restore(pid);
          // The entry keeps the pids not yet restored: the caller decides (usually: kill, then forget).
          if (!r.ok) return refuse(`restore of pid ${pid} (pod ${podId}) failed: ${r.error.message}`);
          entry.pids.shift();
        }
        held.delete(podId);
        return { ok: true };
      } finally {
        moving.delete(podId);
        if (entry.pids.length !== before) changed();
      }
    },
    forget(podId) {
      if (held.delete(podId)) changed();
    },
    adopt(entry) {
      held.set(entry.podId, { ...entry, pids: [...entry.pids], perGpuMiB: { ...entry.perGpuMiB } });
    },
    has: (podId) => held.has(podId) || moving.has(podId),
    used,
    entries,
  };
}

function refuse(reason: string): SwapOutcome {
  return { ok: false, reason };
}

/** Restores pids in order; the first failure's message, or null when all came back. */
async function restoreAll(control: SwapControl, pids: readonly number[]): Promise<string | null> {
  let failure: string | null = null;
  for (const pid of pids) {
    const r = await control.restore(pid);
    if (!r.ok && failure === null) failure = `pid ${pid}: ${r.error.message}`;
  }
  return failure;
}

/** A tenant of a GPU as victim selection sees it. */
export interface IdleCandidate {
  podId: string;
  /** Last time it was seen busy (utilization above zero). */
  lastActiveMs: number;
  /** GPU memory a swap-out would free on the GPU in question. */
  usedMiB: number;
}

/** The victims chosen, or none when even all idle tenants would not free enough. */
export interface IdleVictims {
  victims: IdleCandidate[];
  /** What the victims free; when not `enough`, what all idle tenants together could free. */
  freedMiB: number;
  enough: boolean;
}

/**
 * Idle tenants to swap out to free `neededMiB`: idle means not active for `idleWindowMs`; least
 * recently active first (ties: the larger, so fewer pods move; then podId). When all of them would not
 * free enough, nobody is chosen: a partial swap-out disturbs pods and still makes no room.
 */
export function pickIdleVictims(
  tenants: readonly IdleCandidate[],
  neededMiB: number,
  nowMs: number,
  idleWindowMs: number,
): IdleVictims {
  if (neededMiB <= 0) return { victims: [], freedMiB: 0, enough: true };
  const idle = tenants
    .filter((t) => nowMs - t.lastActiveMs >= idleWindowMs && t.usedMiB > 0)
    .sort(
      (a, b) =>
        a.lastActiveMs - b.lastActiveMs ||
        b.usedMiB - a.usedMiB ||
        (a.podId < b.podId ? -1 : a.podId > b.podId ? 1 : 0),
    );
  const victims: IdleCandidate[] = [];
  let freedMiB = 0;
  for (const t of idle) {
    if (freedMiB >= neededMiB) break;
    victims.push(t);
    freedMiB += t.usedMiB;
  }
  if (freedMiB < neededMiB) return { victims: [], freedMiB, enough: false };
  return { victims, freedMiB, enough: true };
}
