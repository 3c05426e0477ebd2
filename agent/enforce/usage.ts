/** Attribution of a sample's per-process GPU memory to pods: the input both memory decisions share. */
import { type EnforcedPod, LIVE_STATES } from './types.ts';

/** Memory (MiB) each pod's processes use on each GPU, from one sample; unknown pids kept apart. */
export interface UsageIndex {
  /** podId -> gpuUuid -> MiB. */
  byPod: Map<string, Map<string, number>>;
  /** gpuUuid -> MiB of every process on it, attributed or not. */
  byGpu: Map<string, number>;
  /** Processes no live pod owns: reported, never acted on. */
  unknown: { gpuUuid: string; pid: number; usedMiB: number }[];
}

/**
 * Attributes a sample's process rows to pods by pid. A row whose memory the driver does not report
 * (null: WDDM, some MIG setups) counts as 0: enforcement cannot act on what it cannot see.
 */
export function indexUsage(
  sample: { processes: readonly { gpuUuid: string; pid: number; usedMemoryMiB: number | null }[] },
  pods: readonly EnforcedPod[],
): UsageIndex {
  const owner = new Map<number, string>();
  for (const pod of pods) {
    if (!LIVE_STATES.has(pod.state)) continue;
    for (const pid of pod.pids) owner.set(pid, pod.podId);
  }
  const byPod = new Map<string, Map<string, number>>();
  const byGpu = new Map<string, number>();
  const unknown: UsageIndex['unknown'] = [];
  for (const row of sample.processes) {
    const usedMiB = row.usedMemoryMiB ?? 0;
    byGpu.set(row.gpuUuid, (byGpu.get(row.gpuUuid) ?? 0) + usedMiB);
    const podId = owner.get(row.pid);
    if (podId === undefined) {
      unknown.push({ gpuUuid: row.gpuUuid, pid: row.pid, usedMiB });
      continue;
    }
    let perGpu = byPod.get(podId);
    if (perGpu === undefined) {
      perGpu = new Map();
      byPod.set(podId, perGpu);
    }
    perGpu.set(row.gpuUuid, (perGpu.get(row.gpuUuid) ?? 0) + usedMiB);
  }
  return { byPod, byGpu, unknown };
}
