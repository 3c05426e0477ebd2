/**
 * The newest GPU samples of each node (`tessera top`), as its agent's Status carried them.
 * In memory only: samples are live data, a heartbeat old, and never worth a write to the store.
 */
import type { WireGpuSample } from '../../common/wire.ts';

/** One node's newest samples and when they arrived (allocator clock, ms since the epoch). */
export interface NodeSamples {
  atMs: number;
  samples: readonly WireGpuSample[];
}

/** The cache main.ts feeds from the link's onStatus and the top route reads. */
export interface GpuSampleCache {
  /** Keeps `samples` as `node`'s newest; a Status without samples keeps the previous ones. */
  record(node: string, samples: readonly WireGpuSample[], atMs: number): void;
  get(node: string): NodeSamples | undefined;
  forget(node: string): void;
}

/** An empty cache. */
export function createGpuSampleCache(): GpuSampleCache {
  const byNode = new Map<string, NodeSamples>();
  return {
    record(node, samples, atMs) {
      // Agents send samples only when they have new ones; an empty list is "nothing new", not "no GPUs".
      if (samples.length === 0 && byNode.has(node)) return;
      // Kept as given, not copied: a decoded Status is never changed after, and a copy per Status
      // per node was garbage the young generation had to carry for a heartbeat.
      byNode.set(node, { atMs, samples });
    },
    get: (node) => byNode.get(node),
    forget: (node) => {
      byNode.delete(node);
    },
  };
}
