/**
 * Dynamic fractions (docs/architecture.md §2 and §4): a pod's grant has a request (`memoryMiB`, what placement
 * counted) and a limit (`memoryLimitMiB`). Memory between the two is BORROWED: the pod may use it
 * while nobody else needs it, and must give it back when a neighbour needs its own request.
 *
 * The invariant, per GPU: every tenant can still get its request.
 *
 *     free = total - reserved - Σ used (every process on the GPU, ours or not)
 *     need = Σ over tenants of max(0, request - used)
 *     holds when free >= need
 *
 * A tenant below its request is "the one that needs it": the invariant is kept ahead of its
 * allocation, because a CUDA allocation that fails does not wait for the agent's next sample. When
 * the invariant breaks and someone needs memory, borrowers (used > request) give memory back,
 * largest borrow first (the one furthest over its guarantee pays first; ties: lowest priority, then
 * podId, so the same sample gives the same decision), one at a time, stopping as soon as it holds
 * again, so no more pods are disturbed than the deficit calls for. A reclaimed borrower frees all
 * it holds there: a process cannot hand back part of its allocations, so it is swapped out (swap on)
 * or killed (swap off), whatever its priority: borrowed memory was never guaranteed.
 *
 * Pods already leaving (being killed for their limit, or swapped) count as gone: their memory is on
 * its way back and reclaiming them twice would only repeat the action. Swapped-out and exited pods
 * are no tenants: a swapped-out pod asks for its memory when it is swapped in, not before.
 *
 * Pure: sample, pods and capacities in, decisions out; the sample's `atMs` is the only clock.
 */
import type { GpuSample } from '../gpu/driver.ts';
import type { EnforceAction, EnforcedPod, GpuCapacity } from './types.ts';
import { LIVE_STATES } from './types.ts';
import { indexUsage } from './usage.ts';

/** How one GPU stood before the decision. */
export interface GpuMemoryBalance {
  gpuUuid: string;
  freeMiB: number;
  neededMiB: number;
  /** need - free: memory borrowers must give back; <= 0 when the invariant holds. */
  deficitMiB: number;
}

/** What `decideReclaim` found. */
export interface ReclaimDecision {
  /** Reclaims in the order to carry them out. */
  actions: EnforceAction[];
  /** Every GPU with tenants, in uuid order. */
  gpus: GpuMemoryBalance[];
}

interface Tenant {
  pod: EnforcedPod;
  usedMiB: number;
  requestMiB: number;
  limitMiB: number;
}

/** Reclaims borrowed memory wherever a tenant could no longer get its request. */
export function decideReclaim(
  sample: GpuSample,
  pods: readonly EnforcedPod[],
  gpuTotals: readonly GpuCapacity[],
  swapEnabled: boolean,
  leaving: ReadonlySet<string> = new Set(),
): ReclaimDecision {
  const usage = indexUsage(sample, pods);
  const capacity = capacities(sample, gpuTotals);
  const live = pods.filter((p) => LIVE_STATES.has(p.state) && !leaving.has(p.podId));
  // Gone for this decision: pods leaving already and pods reclaimed on an earlier GPU.
  const gone = new Set(pods.filter((p) => leaving.has(p.podId)).map((p) => p.podId));
  const actions: EnforceAction[] = [];
  const gpus: GpuMemoryBalance[] = [];

  for (const gpuUuid of [...capacity.keys()].sort(cmp)) {
    const cap = capacity.get(gpuUuid)!;
    const usedOf = (podId: string): number => usage.byPod.get(podId)?.get(gpuUuid) ?? 0;
    let usedAll = usage.byGpu.get(gpuUuid) ?? 0;
    for (const podId of gone) usedAll -= usedOf(podId);

    const tenants: Tenant[] = [];
    for (const pod of live) {
      if (gone.has(pod.podId)) continue;
      const grant = pod.grants.find((g) => g.uuid === gpuUuid);
      if (grant === undefined) continue;
      tenants.push({
        pod,
        usedMiB: usedOf(pod.podId),
        requestMiB: grant.memoryMiB,
        limitMiB: grant.memoryLimitMiB,
      });
    }
    if (tenants.length === 0) continue;

    const freeMiB = cap.totalMiB - cap.reservedMiB - usedAll;
    const needy = tenants
      .filter((t) => t.usedMiB < t.requestMiB)
      .map((t) => ({ podId: t.pod.podId, shortMiB: t.requestMiB - t.usedMiB }))
      .sort((a, b) => b.shortMiB - a.shortMiB || cmp(a.podId, b.podId));
    const neededMiB = needy.reduce((s, n) => s + n.shortMiB, 0);
    let deficitMiB = neededMiB - freeMiB;
    gpus.push({ gpuUuid, freeMiB, neededMiB, deficitMiB });
    // Nobody below its request means nobody needs anything back, whatever `free` says (a driver
    // that counts reserved memory inside "used" can make it negative).
    if (deficitMiB <= 0 || neededMiB === 0) continue;

    const borrowers = tenants
      .filter((t) => t.usedMiB > t.requestMiB)
      .sort(
        (a, b) =>
          b.usedMiB - b.requestMiB - (a.usedMiB - a.requestMiB) ||
          a.pod.priority - b.pod.priority ||
          cmp(a.pod.podId, b.pod.podId),
      );
    const neededBy = describeNeedy(needy, neededMiB, freeMiB);
    for (const b of borrowers) {
      if (deficitMiB <= 0) break;
      deficitMiB -= b.usedMiB;
      gone.add(b.pod.podId);
      const borrowMiB = b.usedMiB - b.requestMiB;
      actions.push({
        action: swapEnabled ? 'swap-out' : 'kill',
        podId: b.pod.podId,
        event: {
          atMs: sample.atMs,
          kind: swapEnabled ? 'swap-out' : 'reclaim-kill',
          podId: b.pod.podId,
          gpuUuid,
          reason:
            `dynamic fraction reclaim: pod ${b.pod.podId} uses ${b.usedMiB} MiB on ${gpuUuid}, ` +
            `borrowing ${borrowMiB} MiB over its request of ${b.requestMiB} MiB; ${neededBy}`,
          usedMiB: b.usedMiB,
          limitMiB: b.limitMiB,
          requestMiB: b.requestMiB,
        },
      });
    }
  }
  return { actions, gpus };
}

/** Total and reserved per GPU: the inventory's numbers, else the sample row's total. */
function capacities(sample: GpuSample, gpuTotals: readonly GpuCapacity[]): Map<string, GpuCapacity> {
  const out = new Map<string, GpuCapacity>();
  for (const row of sample.gpus) {
    if (row.memoryTotalMiB !== null)
      out.set(row.uuid, { uuid: row.uuid, totalMiB: row.memoryTotalMiB, reservedMiB: 0 });
  }
  for (const cap of gpuTotals) out.set(cap.uuid, cap);
  return out;
}

function describeNeedy(
  needy: { podId: string; shortMiB: number }[],
  neededMiB: number,
  freeMiB: number,
): string {
  const free = `only ${Math.max(0, freeMiB)} MiB is free`;
  if (needy.length === 1) {
    const n = needy[0]!;
    return `pod ${n.podId} needs ${n.shortMiB} MiB more to reach its request and ${free}`;
  }
  const list = needy.map((n) => `${n.podId} (${n.shortMiB} MiB)`).join(', ');
  return `pods ${list} need ${neededMiB} MiB more to reach their requests and ${free}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
