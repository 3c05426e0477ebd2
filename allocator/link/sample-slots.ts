/**
 * One node's newest GPU samples kept as numbers in place, not as the objects a Status decoded to.
 * Ten thousand nodes at one Status a second, each keeping its newest samples for a beat, made those
 * objects outlive two young-generation collections and be promoted, every one: the scavenges copied
 * them (14 % of the allocator's time at 10,000 agents) and the old generation filled with them until
 * a marking cycle slowed everything for a second. Copied here, the decoded ones die young; a GPU's
 * uuid string is kept from the first Status that named it for as long as Statuses name it alike.
 */
import type { WireGpuSample } from '../../common/wire.ts';

/** Readings per sample, in this order; NaN stands for null. */
const FIELDS = 5;

/** A node's samples, reusable across Statuses. */
export interface SampleSlots {
  /** Number of samples held. */
  readonly length: number;
  /** Replaces the held samples with `samples`' values. */
  store(samples: readonly WireGpuSample[]): void;
  /** The held samples as fresh objects (for the rare reader: `tessera top`, a delta's merged Status). */
  materialize(): WireGpuSample[];
  /** Sample `i`'s GPU index and utilization (null: none), without an object. */
  indexAt(i: number): number;
  utilizationAt(i: number): number | null;
}

const num = (v: number | null): number => (v === null ? Number.NaN : v);
const orNull = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);

/** Empty slots. */
export function createSampleSlots(): SampleSlots {
  let uuids: string[] = [];
  let index = new Uint32Array(0);
  let values = new Float64Array(0);
  let length = 0;
  return {
    get length() {
      return length;
    },
    store(samples) {
      if (samples.length > index.length) {
        index = new Uint32Array(samples.length);
        values = new Float64Array(samples.length * FIELDS);
      }
      if (uuids.length !== samples.length) uuids = uuids.slice(0, samples.length);
      samples.forEach((s, i) => {
        // Equal strings: keep the old one, so the decoded copy is garbage at once.
        if (uuids[i] !== s.uuid) uuids[i] = s.uuid;
        index[i] = s.index;
        const at = i * FIELDS;
        values[at] = num(s.utilizationPct);
        values[at + 1] = num(s.memoryUsedMiB);
        values[at + 2] = num(s.memoryTotalMiB);
        values[at + 3] = num(s.temperatureC);
        values[at + 4] = num(s.powerDrawW);
      });
      length = samples.length;
    },
    indexAt: (i) => index[i] ?? 0,
    utilizationAt: (i) => orNull(values[i * FIELDS]),
    materialize() {
      const out: WireGpuSample[] = [];
      for (let i = 0; i < length; i += 1) {
        const at = i * FIELDS;
        out.push({
          uuid: uuids[i] ?? '',
          index: index[i] ?? 0,
          utilizationPct: orNull(values[at]),
          memoryUsedMiB: orNull(values[at + 1]),
          memoryTotalMiB: orNull(values[at + 2]),
          temperatureC: orNull(values[at + 3]),
          powerDrawW: orNull(values[at + 4]),
        });
      }
      return out;
    },
  };
}
