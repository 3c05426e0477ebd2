/**
 * Delta Statuses (docs/architecture.md §5, "Status deltas"): once the allocator's Welcome offers
 * them, the agent sends only the pods whose report changed since its previous Status on this
 * connection, the pods it no longer reports, and its GPU samples only when they changed; a full
 * Status first on every connection, at least every `fullStatusEvery` Statuses, and whenever the
 * allocator's Ack says it could not apply one. Pure: the link feeds it the full Status it would send.
 */
import type { Status, WireGpuSample, WirePodStatus } from '../../common/wire.ts';

/** The delta state of one link. */
export interface StatusDeltas {
  /** A new connection's Welcome: deltas allowed with a full Status every `every` (null: never deltas). */
  configure(every: number | null): void;
  /** What to send for `full`, the Status the agent would send whole. */
  frame(full: Status): Status;
  /** `frame` was handed to the socket: the next delta builds on it. */
  sent(full: Status, frame: Status): void;
  /** The next Status is full: the connection is new or broken, or a frame was not sent. */
  reset(): void;
  /** The allocator could not apply Status `seq`: the next one is full, unless one went out since. */
  wantFull(seq: number): void;
}

interface Base {
  seq: number;
  pods: Map<string, WirePodStatus>;
  samples: readonly WireGpuSample[];
  /** Deltas sent since the last full Status, and that full Status's seq. */
  deltas: number;
  fullSeq: number;
}

/** A fresh state: every Status full until `configure` allows deltas. */
export function createStatusDeltas(): StatusDeltas {
  let every: number | null = null;
  let base: Base | null = null;
  return {
    configure(n) {
      every = n !== null && n > 1 ? n : null;
      base = null;
    },
    frame(full) {
      if (every === null || base === null || base.deltas + 1 >= every) return full;
      return deltaOf(base, full);
    },
    sent(full, frame) {
      const isDelta = frame.delta !== undefined && frame.delta !== null;
      if (isDelta && base === null) return;
      base = {
        seq: frame.seq,
        pods: new Map(full.podStates.map((p) => [p.podId, p])),
        samples: full.gpuSamples,
        deltas: isDelta && base !== null ? base.deltas + 1 : 0,
        fullSeq: isDelta && base !== null ? base.fullSeq : frame.seq,
      };
    },
    reset() {
      base = null;
    },
    wantFull(seq) {
      // Deltas already in flight after the gap are refused too; a full Status sent since answers them all.
      if (base !== null && seq >= base.fullSeq) base = null;
    },
  };
}

/** `full` as a delta over `base`. */
function deltaOf(base: Base, full: Status): Status {
  const listed = new Set<string>();
  const podStates: WirePodStatus[] = [];
  for (const p of full.podStates) {
    listed.add(p.podId);
    const was = base.pods.get(p.podId);
    if (was === undefined || !samePod(was, p)) podStates.push(p);
  }
  const gonePods = [...base.pods.keys()].filter((id) => !listed.has(id));
  return {
    seq: full.seq,
    atMs: full.atMs,
    gpuSamples: sameSamples(base.samples, full.gpuSamples) ? [] : full.gpuSamples,
    podStates,
    delta: { baseSeq: base.seq, gonePods },
    ...(full.wantAck === undefined ? {} : { wantAck: full.wantAck }),
  };
}

function samePod(a: WirePodStatus, b: WirePodStatus): boolean {
  return (
    a.epoch === b.epoch &&
    a.state === b.state &&
    a.pid === b.pid &&
    a.exitCode === b.exitCode &&
    a.signal === b.signal &&
    a.reason === b.reason &&
    a.startedAtMs === b.startedAtMs
  );
}

/** Same GPUs with the same readings, in the same order. */
function sameSamples(a: readonly WireGpuSample[], b: readonly WireGpuSample[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return (
      y !== undefined &&
      x.uuid === y.uuid &&
      x.index === y.index &&
      x.utilizationPct === y.utilizationPct &&
      x.memoryUsedMiB === y.memoryUsedMiB &&
      x.memoryTotalMiB === y.memoryTotalMiB &&
      x.temperatureC === y.temperatureC &&
      x.powerDrawW === y.powerDrawW
    );
  });
}
