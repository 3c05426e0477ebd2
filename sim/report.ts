/**
 * How simulation results are printed: aligned tables for people, one JSON object per line for
 * scripts. Formatting only; every number comes from `runFill` / `runTimed` unchanged.
 */
import type { FillResult } from './fill.ts';
import type { TimedResult } from './timed.ts';

/** Arrived-demand percentages the compact curve shows. */
const CURVE_STEPS = Array.from({ length: 14 }, (_, i) => i * 10);

/** Renders rows as columns two spaces apart; the first `leftColumns` are left-aligned (text), the rest right (numbers). */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  leftColumns = 1,
): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, c) => {
        const cell = cells[c] ?? '';
        return c < leftColumns ? cell.padEnd(w) : cell.padStart(w);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Two decimals, the precision the FGD paper's result files use. */
function fixed2(x: number): string {
  return x.toFixed(2);
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** The curve point at `arrivedPct`, looked up by value so a curve need not start at 0. */
function pointAt(r: FillResult, arrivedPct: number): FillResult['curve'][number] | undefined {
  return r.curve.find((p) => p.arrivedPct === arrivedPct);
}

/** One fill result as the JSON line `-o json` prints, with exactly the documented keys in order. */
export function fillResultJson(r: FillResult): string {
  return JSON.stringify({
    policy: r.policy,
    seed: r.seed,
    capacityGpus: r.capacityGpus,
    curve: r.curve.map((p) => ({
      arrivedPct: p.arrivedPct,
      allocatedPct: p.allocatedPct,
      fragmentedPct: p.fragmentedPct,
    })),
    unallocatedPctAt100: r.unallocatedPctAt100,
  });
}

/** Groups results by policy, keeping the order policies first appear in. */
function byPolicy<T extends { policy: string }>(results: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of results) {
    const group = groups.get(r.policy);
    if (group === undefined) groups.set(r.policy, [r]);
    else group.push(r);
  }
  return groups;
}

/**
 * The fill-mode table: per policy, unallocated GPU % at 100% arrived (mean, min, max over seeds,
 * the FGD paper's KPI) and mean fragmented GPU % there; then the allocation curve every 10%.
 */
export function formatFillTable(results: readonly FillResult[]): string {
  const groups = byPolicy(results);
  const capacity = results[0]?.capacityGpus ?? 0;
  const seedsOf = (rs: readonly FillResult[]): string => {
    const seeds = rs.map((r) => r.seed);
    return seeds.length === 1
      ? `${seeds[0]}`
      : `${Math.min(...seeds)}..${Math.max(...seeds)} (${seeds.length})`;
  };
  const summary = renderTable(
    ['policy', 'seeds', 'unalloc@100 mean', 'min', 'max', 'frag@100 mean'],
    [...groups].map(([policy, rs]) => {
      const unalloc = rs.map((r) => r.unallocatedPctAt100);
      const frag = rs.map((r) => pointAt(r, 100)?.fragmentedPct ?? Number.NaN);
      return [
        policy,
        seedsOf(rs),
        fixed2(mean(unalloc)),
        fixed2(Math.min(...unalloc)),
        fixed2(Math.max(...unalloc)),
        fixed2(mean(frag)),
      ];
    }),
    2,
  );
  const curve = renderTable(
    ['policy \\ arrived %', ...CURVE_STEPS.map(String)],
    [...groups].map(([policy, rs]) => [
      policy,
      ...CURVE_STEPS.map((step) => {
        const points = rs.map((r) => pointAt(r, step)?.allocatedPct ?? Number.NaN);
        return mean(points).toFixed(1);
      }),
    ]),
  );
  return [
    `Fill (FGD method): ${capacity} GPUs; % of GPU capacity at 100% arrived demand, lower is better`,
    summary,
    '',
    'Allocated GPU % of capacity by arrived GPU demand % (mean over seeds)',
    curve,
    '',
  ].join('\n');
}

/** One timed result as the JSON line `-o json` prints (per-pod outcomes left out: one line per policy). */
export function timedResultJson(r: TimedResult): string {
  return JSON.stringify({
    policy: r.policy,
    seed: r.seed,
    arrivalScale: r.arrivalScale,
    capacityGpus: r.capacityGpus,
    pods: r.pods,
    placed: r.placed,
    unschedulable: r.unschedulable,
    unschedulablePods: r.unschedulablePods,
    queueDelayS: r.queueDelayS,
    delayedPct: r.delayedPct,
    gpuAllocationPct: r.gpuAllocationPct,
    gpuAllocationPeakPct: r.gpuAllocationPeakPct,
    makespanS: r.makespanS,
    arrivalSpanS: r.arrivalSpanS,
    offeredLoadPct: r.offeredLoadPct,
  });
}

/** Seconds in the largest unit that keeps them readable: `42 s`, `3.5 h`, `149.3 d`. */
export function humanSeconds(s: number): string {
  if (s < 120) return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/** The timed-mode table: one row per metric, one column per policy. */
export function formatTimedTable(results: readonly TimedResult[]): string {
  const metric = (name: string, value: (r: TimedResult) => string): string[] => [name, ...results.map(value)];
  const delay = (key: keyof TimedResult['queueDelayS']) => (r: TimedResult) =>
    humanSeconds(r.queueDelayS[key]);
  const table = renderTable(
    ['metric', ...results.map((r) => r.policy)],
    [
      metric('offered GPU load %', (r) => (r.offeredLoadPct === null ? 'n/a' : fixed2(r.offeredLoadPct))),
      metric('pods', (r) => `${r.pods}`),
      metric('placed', (r) => `${r.placed}`),
      metric('unschedulable', (r) => `${r.unschedulable}`),
      metric('delayed pods %', (r) => fixed2(r.delayedPct)),
      metric('queue delay mean', delay('mean')),
      metric('queue delay p50', delay('p50')),
      metric('queue delay p90', delay('p90')),
      metric('queue delay p99', delay('p99')),
      metric('queue delay max', delay('max')),
      metric('GPU allocated % (time avg)', (r) => fixed2(r.gpuAllocationPct)),
      metric('GPU allocated % (peak)', (r) => fixed2(r.gpuAllocationPeakPct)),
      metric('arrival window', (r) => humanSeconds(r.arrivalSpanS)),
      metric('makespan', (r) => humanSeconds(r.makespanS)),
    ],
  );
  const scale = results[0]?.arrivalScale ?? 1;
  const arrivals =
    scale === 1
      ? 'arrival scale 1 (trace times)'
      : `arrival scale ${scale} (arrivals ${scale}x closer, runtimes kept)`;
  const lines = [
    `Timed replay: ${results[0]?.capacityGpus ?? 0} GPUs; ${arrivals}; FIFO queue with backfill`,
    'offered GPU load: GPU demand x runtime over capacity x arrival window',
    table,
  ];
  for (const r of results) {
    if (r.unschedulable === 0) continue;
    const shown = r.unschedulablePods.slice(0, 5).join(', ');
    const more = r.unschedulable > 5 ? `, ... (${r.unschedulable - 5} more)` : '';
    lines.push(`${r.policy}: fits no node even when empty: ${shown}${more}`);
  }
  lines.push('');
  return lines.join('\n');
}
