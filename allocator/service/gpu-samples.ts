/**
 * The newest GPU samples of each node (`tessera top`), as its agent's Status carried them.
 * In memory only: samples are live data, a heartbeat old, and never worth a write to the store.
 */
import type { WireGpuSample } from '../../common/wire.ts';
import { createSampleSlots, type SampleSlots } from '../link/sample-slots.ts';
import type { NodeRecord } from '../store/nodes.ts';

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
  /** Every node's newest samples in a compact form another thread can take cheaply. */
  flat(): FlatSamples;
}

/**
 * What the usage history reads of the cache, as typed arrays and one string: cloned to the
 * scheduler's thread in a few ms, where 80,000 sample objects or their uuids (10,000 nodes) took
 * tens. GPUs are named by index; the thread takes their uuids from the store's node records.
 */
export interface FlatSamples {
  /** Node names, '\n'-joined, and each node's sample time and sample count. */
  nodes: string;
  atMs: Float64Array;
  counts: Uint16Array;
  /** Per sample, in node order: the GPU's index and its utilization (NaN: none). */
  index: Uint16Array;
  utilizationPct: Float64Array;
}

/** The nodes' samples back from `flat`, uuids from `nodes` by GPU index (utilization only; the rest null). */
export function samplesFromFlat(
  f: FlatSamples,
  nodes: readonly Pick<NodeRecord, 'name' | 'gpus'>[],
): Map<string, NodeSamples> {
  const out = new Map<string, NodeSamples>();
  if (f.nodes === '') return out;
  const gpusOf = new Map(nodes.map((n) => [n.name, n.gpus]));
  let k = 0;
  f.nodes.split('\n').forEach((node, i) => {
    const gpus = gpusOf.get(node) ?? [];
    const samples: WireGpuSample[] = [];
    for (let c = f.counts[i] ?? 0; c > 0; c -= 1, k += 1) {
      const index = f.index[k] ?? 0;
      const uuid = gpus.find((g) => g.index === index)?.uuid;
      if (uuid === undefined) continue;
      const util = f.utilizationPct[k];
      samples.push({
        ...{ uuid, index, utilizationPct: util === undefined || Number.isNaN(util) ? null : util },
        ...{ memoryUsedMiB: null, memoryTotalMiB: null, temperatureC: null, powerDrawW: null },
      });
    }
    out.set(node, { atMs: f.atMs[i] ?? 0, samples });
  });
  return out;
}

/** An empty cache. */
export function createGpuSampleCache(): GpuSampleCache {
  // Kept as numbers (link/sample-slots.ts): the decoded samples of every Status die young.
  const byNode = new Map<string, { atMs: number; slots: SampleSlots }>();
  return {
    record(node, samples, atMs) {
      const held = byNode.get(node);
      // Agents send samples only when they have new ones; an empty list is "nothing new", not "no GPUs".
      if (samples.length === 0 && held !== undefined) return;
      if (held === undefined) {
        const slots = createSampleSlots();
        slots.store(samples);
        byNode.set(node, { atMs, slots });
        return;
      }
      held.atMs = atMs;
      held.slots.store(samples);
    },
    get(node) {
      const held = byNode.get(node);
      return held === undefined ? undefined : { atMs: held.atMs, samples: held.slots.materialize() };
    },
    forget: (node) => {
      byNode.delete(node);
    },
    flat() {
      let total = 0;
      for (const v of byNode.values()) total += v.slots.length;
      const f: FlatSamples = {
        nodes: [...byNode.keys()].join('\n'),
        atMs: new Float64Array(byNode.size),
        counts: new Uint16Array(byNode.size),
        index: new Uint16Array(total),
        utilizationPct: new Float64Array(total),
      };
      let i = 0;
      let k = 0;
      for (const v of byNode.values()) {
        f.atMs[i] = v.atMs;
        f.counts[i] = v.slots.length;
        i += 1;
        for (let j = 0; j < v.slots.length; j += 1, k += 1) {
          f.index[k] = v.slots.indexAt(j);
          f.utilizationPct[k] = v.slots.utilizationAt(j) ?? Number.NaN;
        }
      }
      return f;
    },
  };
}
