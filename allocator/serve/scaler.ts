/**
 * The allocator's side of autoscaling: one LoadMeter per served workload (the proxy feeds it), the
 * pure autoscaler's state, and the replica count each autoscaled workload wants now. The scheduler
 * reads `wanted` through the snapshot (store/snapshot.ts), which caps the workload's elastic range
 * at it: the elastic action grows the workload up to it and shrinks it down to it. Held in memory:
 * after an allocator restart a workload starts again from its spec's replicas and the load it sees.
 */
import type { Autoscaling } from '../../common/workload-serving.ts';
import { decideReplicas, initialScalerState, type ScalerState } from './autoscaler.ts';
import { LoadMeter } from './load-meter.ts';

/** An autoscaled workload as the scaler needs it on each tick. */
export interface ScaledWorkload {
  id: string;
  autoscaling: Autoscaling;
  /** Replicas the spec starts with (the wanted count before the first decision). */
  replicas: number;
  /** Ready replicas now. */
  ready: number;
}

/** Options of the scaler; each documented with its default where it is filled in (allocator/main.ts). */
export interface ScalerOptions {
  stabilisationMs: number;
  windowMs: number;
}

/** Meters, autoscaler state and wanted replica counts of every served workload. */
export class ServeScaler {
  private readonly meters = new Map<string, LoadMeter>();
  private readonly states = new Map<string, ScalerState>();
  private readonly wantedById = new Map<string, number>();

  constructor(private readonly options: ScalerOptions) {}

  /** The meter of workload `id` (created on first use). */
  meter(id: string): LoadMeter {
    let m = this.meters.get(id);
    if (m === undefined) {
      m = new LoadMeter(this.options.windowMs);
      this.meters.set(id, m);
    }
    return m;
  }

  /** Every autoscaled workload's wanted replicas, for a snapshot read on another thread. */
  wantedAll(): [string, number][] {
    return [...this.wantedById];
  }

  /** The replicas workload `id` wants now; undefined: not autoscaled (or not decided yet). */
  wanted(id: string): number | undefined {
    return this.wantedById.get(id);
  }

  /** A request arrived with no ready replica: want at least one now (cold start). True when that changed anything. */
  wake(id: string): boolean {
    const w = this.wantedById.get(id);
    if (w === undefined || w >= 1) return false;
    this.wantedById.set(id, 1);
    return true;
  }

  /** Decides every autoscaled workload at `nowMs`; forgets those no longer listed. True when a wanted count changed. */
  tick(workloads: readonly ScaledWorkload[], nowMs: number): boolean {
    let changed = false;
    const seen = new Set<string>();
    for (const w of workloads) {
      seen.add(w.id);
      const state = this.states.get(w.id) ?? initialScalerState(nowMs);
      const decision = decideReplicas(state, {
        autoscaling: w.autoscaling,
        load: this.meter(w.id).sample(nowMs),
        ready: w.ready,
        nowMs,
        stabilisationMs: this.options.stabilisationMs,
      });
      this.states.set(w.id, decision.state);
      const before = this.wantedById.get(w.id) ?? w.replicas;
      if (decision.replicas !== before || !this.wantedById.has(w.id))
        changed ||= decision.replicas !== before;
      this.wantedById.set(w.id, decision.replicas);
    }
    for (const id of [...this.wantedById.keys()]) {
      if (seen.has(id)) continue;
      this.wantedById.delete(id);
      this.states.delete(id);
      this.meters.delete(id);
    }
    return changed;
  }
}
