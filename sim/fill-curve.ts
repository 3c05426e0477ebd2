/**
 * The FGD paper's allocation curve from per-pod events (fgd-method.md §5; simulator
 * `pkg/simulator/analysis.go`, `scripts/analysis.py`, `experiments/analysis/merge_alloc_discrete.py`).
 *
 * After every pod, placed or failed, an event records arrived and allocated GPU milli. Its bin is
 * arrive% = round(arrived / capacityGpus / 10) (Python's round, half to even); its value
 * alloc% = round(used / capacityGpus / 10, 2). Column X is the mean of the values of events in
 * bin X, or, when bin X is empty, of events in bins X-1..X+1, rounded to 2 decimals. So the value
 * at 100 % is a mean over the ~85 pods arriving in [99.5 %, 100.5 %), not one snapshot.
 */

/** The last arrived-demand percentage of the curve (the paper inflates arrivals to 130 %). */
export const CURVE_MAX_PCT = 130;

/** One event per pod handed to the scheduler, in percent of cluster GPU capacity. */
export interface FillEvent {
  arrivedBin: number;
  allocatedPct: number;
  fragmentedPct: number;
}

/** Python 3's round(x) for x >= 0: nearest integer, exact halves to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Rounds to 2 decimals from the exact binary value (as Python's round(x, 2) does for non-ties). */
export function round2(x: number): number {
  return Number(x.toFixed(2));
}

/** The event of a pod: bin of `arrivedMilli`, allocation and fragmentation as % of capacity. */
export function fillEvent(
  arrivedMilli: number,
  usedMilli: number,
  fragMilli: number,
  capacityGpus: number,
): FillEvent {
  return {
    arrivedBin: pyRound(arrivedMilli / capacityGpus / 10),
    allocatedPct: round2(usedMilli / capacityGpus / 10),
    fragmentedPct: round2(fragMilli / capacityGpus / 10),
  };
}

/** One point of the curve. */
export interface CurvePoint {
  arrivedPct: number;
  allocatedPct: number;
  fragmentedPct: number;
}

/**
 * Bin means for 0..maxPct. A bin with no event in X-1..X+1 either (a single pod jumping several
 * percent) repeats the previous point, since nothing changed between the events around it.
 */
export function binCurve(events: readonly FillEvent[], maxPct = CURVE_MAX_PCT): CurvePoint[] {
  const count = new Array<number>(maxPct + 1).fill(0);
  const alloc = new Array<number>(maxPct + 1).fill(0);
  const frag = new Array<number>(maxPct + 1).fill(0);
  for (const e of events) {
    if (e.arrivedBin < 0 || e.arrivedBin > maxPct) continue;
    count[e.arrivedBin] = (count[e.arrivedBin] ?? 0) + 1;
    alloc[e.arrivedBin] = (alloc[e.arrivedBin] ?? 0) + e.allocatedPct;
    frag[e.arrivedBin] = (frag[e.arrivedBin] ?? 0) + e.fragmentedPct;
  }
  // Events one bin beyond the range still count for the X+1 fallback of the last column.
  let beyondN = 0;
  let beyondA = 0;
  let beyondF = 0;
  for (const e of events) {
    if (e.arrivedBin === maxPct + 1) {
      beyondN++;
      beyondA += e.allocatedPct;
      beyondF += e.fragmentedPct;
    }
  }
  const at = (i: number): [number, number, number] =>
    i === maxPct + 1 ? [beyondN, beyondA, beyondF] : [count[i] ?? 0, alloc[i] ?? 0, frag[i] ?? 0];
  const curve: CurvePoint[] = [];
  for (let x = 0; x <= maxPct; x++) {
    let [n, a, f] = at(x);
    if (n === 0) {
      for (const i of [x - 1, x + 1]) {
        if (i < 0) continue;
        const [ni, ai, fi] = at(i);
        n += ni;
        a += ai;
        f += fi;
      }
    }
    const prev = curve[x - 1];
    if (n === 0)
      curve.push({
        arrivedPct: x,
        allocatedPct: prev?.allocatedPct ?? 0,
        fragmentedPct: prev?.fragmentedPct ?? 0,
      });
    else curve.push({ arrivedPct: x, allocatedPct: round2(a / n), fragmentedPct: round2(f / n) });
  }
  return curve;
}
