/**
 * `tessera simulate --mode timed`: replays a trace's creation and deletion times through the
 * placement code the allocator uses, to measure queueing delay and GPU allocation over time.
 *
 * Pure and deterministic: the trace's own times are the only clock; only the random baseline
 * draws, from a generator seeded by `seed`. Ties between nodes go by node name (fill mode instead
 * draws a seeded tie order, as the FGD simulator does).
 *
 * Placement is the allocator's: binpack, spread and fragmentation-aware go through `Placer.place`,
 * the call its cycle makes; the FGD baselines through `placeWith` with their score policy objects.
 * FGD-style fragmentation is measured against the typical pods of the replayed trace.
 *
 * Arrival scale: `arrivalScale` K divides every creation time by K (creation' = creation / K)
 * while each pod keeps its runtime, so K > 1 packs the same work into a shorter window and raises
 * the offered load (the real trace loads its cluster too lightly for any pod to wait). K = 1
 * replays the trace's own times.
 *
 * The model, event by event:
 * - at its creation time a pod joins a FIFO queue; a pod that fits no node even on an empty
 *   cluster is reported as unschedulable instead (it would otherwise wait forever);
 * - a pod keeps its runtime (deletion - scheduled, or deletion - creation for pods the trace never
 *   scheduled), so a pod that starts late also ends late;
 * - at its (shifted) end a pod frees its resources;
 * - events with the same time are handled together, ends before arrivals (capacity freed at t is
 *   usable by a pod created at t); then the queue is tried in FIFO order.
 *
 * Backfill: a queued pod that does not fit does not block the ones behind it, as in the
 * Kubernetes scheduler the trace comes from (an unschedulable pod is set aside and the next one
 * tried). Head-of-line blocking is thus bounded by the pod's own fit, not by the queue ahead of it.
 * There is no reservation, so a large pod can be overtaken by smaller ones for as long as they keep
 * fitting first; the delay percentiles show what that costs.
 */
import {
  applyPlacement,
  createPlacer,
  fits,
  type PolicyPlacer,
  releasePlacement,
  SCORE_POLICY_NAMES,
  type ScorePolicyName,
  takenMilli,
} from '../allocator/scheduler/placement/index.ts';
import type { Placement, PlacementRequest } from '../allocator/scheduler/placement/types.ts';
import type { PlacementStrategy } from '../allocator/scheduler/snapshot.ts';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import { podDemandMilli, podRequest } from './fill.ts';
import { SeededRng } from './rng.ts';
import { type DelayStats, delayStats } from './stats.ts';
import { type TraceNode, type TracePod, traceNodesToState, traceTargetMix } from './trace.ts';

/** Policies timed mode can replay: every score policy the placer runs, the FGD baselines included. */
export const TIMED_POLICY_NAMES: readonly ScorePolicyName[] = SCORE_POLICY_NAMES;

/** A policy timed mode can replay. */
export type TimedPolicyName = ScorePolicyName;

export type { DelayStats } from './stats.ts';

/** True when `name` is a policy timed mode can replay. */
export function isTimedPolicy(name: string): name is TimedPolicyName {
  return (TIMED_POLICY_NAMES as readonly string[]).includes(name);
}

/** The allocator's own strategies go through `place`, the very call its cycle makes. */
function isStrategy(policy: ScorePolicyName): policy is ScorePolicyName & PlacementStrategy {
  return policy === 'binpack' || policy === 'spread' || policy === 'fragmentation-aware';
}

/** The seed the random policy draws from unless told otherwise (the FGD paper's first seed). */
export const DEFAULT_TIMED_SEED = 42;

/** What `runTimed` replays. Every pod needs `creationTimeS` and `deletionTimeS` (see `checkTimedTrace`). */
export interface TimedInput {
  nodes: readonly TraceNode[];
  pods: readonly TracePod[];
  policy: TimedPolicyName;
  /** Seeds the random policy's draws; the others draw nothing. Default 42. */
  seed?: number;
  /**
   * Divides every creation time by this factor, runtimes unchanged: K > 1 compresses the time
   * between arrivals and raises the offered load. A positive finite number; default 1.
   */
  arrivalScale?: number;
}

/** What happened to one pod. `startS` and `endS` are null for an unschedulable pod. */
export interface TimedPodOutcome {
  name: string;
  createdS: number;
  startS: number | null;
  endS: number | null;
  /** Node it ran on, null when unschedulable. */
  node: string | null;
}

/** The report of one timed replay. */
export interface TimedResult {
  policy: TimedPolicyName;
  /** The seed the random policy drew from; null for policies that draw nothing. */
  seed: number | null;
  /** The factor creation times were divided by (1: the trace's own times). */
  arrivalScale: number;
  capacityGpus: number;
  pods: number;
  placed: number;
  unschedulable: number;
  /** Names of the unschedulable pods, in trace order. */
  unschedulablePods: string[];
  queueDelayS: DelayStats;
  /** Share of placed pods that waited at all, in %. */
  delayedPct: number;
  /** Allocated GPU (milli-GPU, so a 0.5-GPU pod counts half) averaged over the makespan, % of capacity. */
  gpuAllocationPct: number;
  /** The most GPU ever allocated at once, % of capacity: whether the cluster ever came near full. */
  gpuAllocationPeakPct: number;
  /** From the first creation to the last end, in seconds. */
  makespanS: number;
  /** From the first creation to the last, after scaling, in seconds: the replay window. */
  arrivalSpanS: number;
  /**
   * Offered load: the GPU demand of the pods that fit the cluster (milli-GPU x runtime, summed)
   * over capacity x `arrivalSpanS`, in %. Policy-independent; near or above 100 the queue grows.
   * Null when every arrival falls on one instant (no window to average over).
   */
  offeredLoadPct: number | null;
  /** Per pod, in trace order. */
  outcomes: TimedPodOutcome[];
}

/**
 * Checks that every pod has the times timed mode replays, naming `file` in the error: a trace
 * without times (the multigpu20 variant has none) can only run in fill mode.
 */
export function checkTimedTrace(pods: readonly TracePod[], file: string): Result<void> {
  const untimed = pods.filter((p) => p.creationTimeS === undefined || p.deletionTimeS === undefined);
  const first = untimed[0];
  if (first !== undefined) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_TRACE',
        `${file}: --mode timed needs creation_time and deletion_time on every pod, but ${untimed.length} of ${pods.length} pods have none (first: '${first.name}'); run this trace with --mode fill`,
        { field: 'creation_time', context: { file, pod: first.name, untimed: untimed.length } },
      ),
    );
  }
  for (const p of pods) {
    const created = p.creationTimeS ?? 0;
    const deleted = p.deletionTimeS ?? 0;
    const started = p.scheduledTimeS ?? created;
    if (deleted < created || deleted < started) {
      return err(
        tesseraError(
          'TESSERA_E_INVALID_TRACE',
          `${file}: pod '${p.name}' ends (deletion_time ${deleted}) before it is created or scheduled (creation_time ${created}, scheduled_time ${started})`,
          { field: 'deletion_time', context: { file, pod: p.name } },
        ),
      );
    }
  }
  return ok(undefined);
}

/** Pods with the same key have the same request: if one does not fit, none of them does. */
function requestKey(r: PlacementRequest): string {
  return `${r.gpuCount}/${r.gpuMilli}/${r.cpuMillis}/${r.memoryMiB}/${r.ports}/${r.gpuModels.join('|')}`;
}

/** A binary min-heap of pod ends, ordered by time then pod index, so ties break the same way every run. */
class EndHeap {
  private readonly items: { timeS: number; pod: number }[] = [];

  get size(): number {
    return this.items.length;
  }

  peekTime(): number {
    return this.items[0]?.timeS ?? Number.POSITIVE_INFINITY;
  }

  push(timeS: number, pod: number): void {
    const a = this.items;
    a.push({ timeS, pod });
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined) throw new Error('EndHeap.pop on an empty heap');
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(l, m)) m = l;
        if (r < a.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top.pod;
  }

  private less(i: number, j: number): boolean {
    const x = this.items[i]!;
    const y = this.items[j]!;
    return x.timeS < y.timeS || (x.timeS === y.timeS && x.pod < y.pod);
  }

  private swap(i: number, j: number): void {
    const a = this.items;
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** The arrival scale unless told otherwise: the trace's own times. */
export const DEFAULT_ARRIVAL_SCALE = 1;

/** Replays the trace's times with `policy` and reports delays, allocation and makespan. */
export function runTimed(input: TimedInput): TimedResult {
  const { pods, policy } = input;
  const checked = checkTimedTrace(pods, 'pods');
  if (!checked.ok) throw new Error(`runTimed: ${checked.error.message} (call checkTimedTrace first)`);
  const scale = input.arrivalScale ?? DEFAULT_ARRIVAL_SCALE;
  if (!(Number.isFinite(scale) && scale > 0)) {
    throw new Error(`runTimed: arrivalScale must be a positive finite number, got ${scale}`);
  }

  const state = traceNodesToState([...input.nodes]);
  // FGD measures fragmentation against the trace's typical pods (fgd-method.md §4.4).
  const mix = traceTargetMix(pods);
  const seed = policy === 'random' ? (input.seed ?? DEFAULT_TIMED_SEED) : null;
  const placer: PolicyPlacer = createPlacer(state, { mix, rng: new SeededRng(seed ?? DEFAULT_TIMED_SEED) });
  const pool = state[0]?.pool ?? 'default';
  const place = (req: PlacementRequest): Placement | null =>
    isStrategy(policy) ? placer.place(pool, req, policy) : placer.placeWith(pool, req, policy);
  // A separate, never-touched copy of the cluster answers "could this pod ever fit?" without
  // asking a policy (the random one would consume draws).
  const empty = traceNodesToState([...input.nodes]);
  const capacityMilli = state.reduce((s, n) => s + n.gpus.length * 1000, 0);

  const n = pods.length;
  const requests = pods.map(podRequest);
  const keys = requests.map(requestKey);
  // Runtimes come from the trace's own times; only arrivals are scaled (division keeps their order).
  const createdS = pods.map((p) => (p.creationTimeS ?? 0) / scale);
  const runtimeS = pods.map((p) => (p.deletionTimeS ?? 0) - (p.scheduledTimeS ?? p.creationTimeS ?? 0));
  const startS: (number | null)[] = new Array<number | null>(n).fill(null);
  const placements: (Placement | null)[] = new Array<Placement | null>(n).fill(null);
  const unschedulable: boolean[] = new Array<boolean>(n).fill(false);
  const arrivals = [...pods.keys()].sort((a, b) => createdS[a]! - createdS[b]! || a - b);

  const fitsEmptyMemo = new Map<string, boolean>();
  const fitsEmpty = (i: number): boolean => {
    const key = keys[i]!;
    let fitsSomewhere = fitsEmptyMemo.get(key);
    if (fitsSomewhere === undefined) {
      const req = requests[i]!;
      fitsSomewhere = empty.some((node) => fits(node, req, pool));
      fitsEmptyMemo.set(key, fitsSomewhere);
    }
    return fitsSomewhere;
  };

  const ends = new EndHeap();
  let queue: number[] = [];
  let allocatedMilli = 0;
  let areaMilliS = 0;
  let peakMilli = 0;
  const firstS = arrivals.length > 0 ? createdS[arrivals[0]!]! : 0;
  let lastS = firstS;

  /** Tries queued pods from position `from` on, in FIFO order, backfilling past the ones that don't fit. */
  const schedule = (from: number, nowS: number): void => {
    // Capacity only shrinks during a pass, so a request that failed once fails again.
    const failed = new Set<string>();
    const waiting = queue.slice(0, from);
    for (let q = from; q < queue.length; q++) {
      const i = queue[q]!;
      const key = keys[i]!;
      const req = requests[i]!;
      const placement = failed.has(key) ? null : place(req);
      if (placement === null) {
        failed.add(key);
        waiting.push(i);
        continue;
      }
      applyPlacement(placement.node, placement.gpus, req);
      placer.update(placement.node);
      placements[i] = placement;
      startS[i] = nowS;
      allocatedMilli += takenMilli(placement.gpus);
      ends.push(nowS + runtimeS[i]!, i);
    }
    queue = waiting;
    peakMilli = Math.max(peakMilli, allocatedMilli);
  };

  let next = 0;
  while (next < n || ends.size > 0) {
    const nowS = Math.min(next < n ? createdS[arrivals[next]!]! : Number.POSITIVE_INFINITY, ends.peekTime());
    areaMilliS += allocatedMilli * (nowS - lastS);
    lastS = nowS;

    let freed = false;
    while (ends.size > 0 && ends.peekTime() === nowS) {
      const i = ends.pop();
      const placement = placements[i]!;
      releasePlacement(placement.node, placement.gpus, requests[i]!);
      placer.update(placement.node);
      allocatedMilli -= takenMilli(placement.gpus);
      freed = true;
    }
    const firstNew = queue.length;
    while (next < n && createdS[arrivals[next]!] === nowS) {
      const i = arrivals[next++]!;
      if (fitsEmpty(i)) queue.push(i);
      else unschedulable[i] = true;
    }
    // Without a freed resource, pods already queued still don't fit: only the new ones need a try.
    schedule(freed ? 0 : firstNew, nowS);
  }
  // Every queued pod fits an empty cluster and the cluster ends empty, so the queue drains; should
  // the placer disagree with itself, report the leftovers rather than drop them.
  for (const i of queue) unschedulable[i] = true;

  const delays: number[] = [];
  const outcomes: TimedPodOutcome[] = pods.map((p, i) => {
    const start = startS[i] ?? null;
    if (start !== null) delays.push(start - createdS[i]!);
    return {
      name: p.name,
      createdS: createdS[i]!,
      startS: start,
      endS: start === null ? null : start + runtimeS[i]!,
      node: placements[i]?.node.name ?? null,
    };
  });
  const unschedulablePods = pods.filter((_, i) => unschedulable[i]).map((p) => p.name);
  // The last end, not the last event: a trailing unschedulable arrival runs nothing.
  const lastEndS = outcomes.reduce((m, o) => (o.endS === null ? m : Math.max(m, o.endS)), firstS);
  const makespanS = lastEndS - firstS;
  const lastArrivalS = arrivals.length > 0 ? createdS[arrivals[arrivals.length - 1]!]! : firstS;
  const arrivalSpanS = lastArrivalS - firstS;
  // Demand of the pods that could run at all (an unschedulable pod offers nothing the cluster can take).
  const demandMilliS = pods.reduce((s, p, i) => (fitsEmpty(i) ? s + podDemandMilli(p) * runtimeS[i]! : s), 0);
  return {
    policy,
    seed,
    arrivalScale: scale,
    capacityGpus: capacityMilli / 1000,
    pods: n,
    placed: delays.length,
    unschedulable: unschedulablePods.length,
    unschedulablePods,
    queueDelayS: delayStats(delays),
    delayedPct: delays.length === 0 ? 0 : (100 * delays.filter((d) => d > 0).length) / delays.length,
    gpuAllocationPct:
      makespanS > 0 && capacityMilli > 0 ? (100 * areaMilliS) / (capacityMilli * makespanS) : 0,
    gpuAllocationPeakPct: capacityMilli > 0 ? (100 * peakMilli) / capacityMilli : 0,
    makespanS,
    arrivalSpanS,
    offeredLoadPct:
      arrivalSpanS > 0 && capacityMilli > 0 ? (100 * demandMilliS) / (capacityMilli * arrivalSpanS) : null,
    outcomes,
  };
}
