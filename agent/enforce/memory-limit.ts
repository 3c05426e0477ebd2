/**
 * GPU memory limits (docs/architecture.md §4): a pod whose processes together hold more memory on a GPU than
 * that GPU's grant allows (`memoryLimitMiB`) is killed and reported as a GPU OOM with the numbers.
 *
 * The limit is per pod, not per process: a pod's processes share one grant, so a workload that forks
 * data-loader workers onto the GPU cannot multiply its share. Memory on a GPU the pod holds no grant
 * for is over a limit of 0: its visible devices should have kept it off that GPU, so it is a breach,
 * not a borrow. Processes no pod owns (another user's job, the display server) are reported and
 * never killed: the agent only ends what it started.
 *
 * Pure: a sample and the pods in, decisions out; the sample's `atMs` is the only clock.
 */
import type { GpuSample } from '../gpu/driver.ts';
import type { EnforceAction, EnforcedPod } from './types.ts';
import { indexUsage, type UsageIndex } from './usage.ts';

/** What `decideMemoryLimits` found. */
export interface MemoryLimitDecision {
  /** One kill per pod over its limit, in podId order. */
  actions: EnforceAction[];
  /** Processes no live pod owns; for a report, never for a kill. */
  unknown: UsageIndex['unknown'];
}

/** Kills every pod over its GPU memory limit on some GPU; touches nothing else. */
export function decideMemoryLimits(sample: GpuSample, pods: readonly EnforcedPod[]): MemoryLimitDecision {
  const usage = indexUsage(sample, pods);
  const actions: EnforceAction[] = [];
  const sorted = [...pods].sort((a, b) => cmp(a.podId, b.podId));
  for (const pod of sorted) {
    const perGpu = usage.byPod.get(pod.podId);
    if (perGpu === undefined) continue;
    // Sorted GPUs so the reported GPU is the same for the same sample, whatever the row order.
    for (const gpuUuid of [...perGpu.keys()].sort(cmp)) {
      const usedMiB = perGpu.get(gpuUuid) ?? 0;
      const grant = pod.grants.find((g) => g.uuid === gpuUuid);
      const limitMiB = grant?.memoryLimitMiB ?? 0;
      if (usedMiB <= limitMiB) continue;
      const why = grant === undefined ? ' (no grant on that GPU)' : '';
      actions.push({
        action: 'kill',
        podId: pod.podId,
        event: {
          atMs: sample.atMs,
          kind: 'gpu-oom-kill',
          podId: pod.podId,
          gpuUuid,
          reason: `GPU OOM: pod ${pod.podId} used ${usedMiB} MiB on ${gpuUuid}, over its limit of ${limitMiB} MiB${why}`,
          usedMiB,
          limitMiB,
          requestMiB: grant?.memoryMiB ?? 0,
        },
      });
      // One kill ends the pod on every GPU; a second reason would only repeat it.
      break;
    }
  }
  return { actions, unknown: usage.unknown };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
