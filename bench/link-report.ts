/**
 * The link benchmark's figures (bench/link.ts): one result per ramp step, the "keeps up" judgement
 * against the targets, and the printed table.
 */
import { renderTable } from '../sim/report.ts';

/** Status handling target: p99 under 100 ms. */
export const STATUS_P99_TARGET_MS = 100;

/** Every agent joined within 60 s of the fleets' start. */
export const JOIN_TARGET_S = 60;

/** Figures of one ramp step; null where that side did not run or measured nothing. */
export interface LinkStepResult {
  agents: number;
  joined: number;
  /** Seconds from starting the fleets until every agent joined (or the join timeout). */
  joinS: number;
  statusBytes: number;
  sent: number;
  /** Statuses answered (an Ack covers its seq and every earlier one), and the Acks that did it. */
  acked: number;
  acks: number;
  /** Status delay as the bare server measures it: when the allocator applied it - the agent's atMs. */
  statusP50Ms: number | null;
  statusP99Ms: number | null;
  /** Status -> Ack round trip at the fleet, for the Statuses the allocator acked (one in several). */
  ackP50Ms: number | null;
  ackP99Ms: number | null;
  /** Allocator event-loop delay p99 over the window: what a Status waits before it is handled. */
  loopDelayP99Ms: number | null;
  /** Scheduling cycles in the window and the longest seen (sampled every 50 ms): they block the loop. */
  cycles: number;
  cycleMsMax: number;
  statusFramesHandled: number;
  startsCommitted: number;
  startsReceived: number;
  startP50Ms: number | null;
  startP99Ms: number | null;
  cpuPct: number | null;
  /** The fleet processes' CPU over the window, all together: the load generator shares the cores. */
  fleetCpuPct: number | null;
  rssMiB: number | null;
  warnLines: number;
  bareCpuPct: number | null;
  bareP50Ms: number | null;
  bareP99Ms: number | null;
  bareFrames: number;
  keepsUp: boolean;
}

/** A step's result before anything is measured. */
export function emptyResult(agents: number): LinkStepResult {
  return {
    ...{
      agents,
      joined: 0,
      joinS: 0,
      statusBytes: 0,
      sent: 0,
      acked: 0,
      acks: 0,
      statusP50Ms: null,
      statusP99Ms: null,
      ackP50Ms: null,
      ackP99Ms: null,
    },
    ...{ loopDelayP99Ms: null, cycles: 0, cycleMsMax: 0, statusFramesHandled: 0, startsCommitted: 0 },
    ...{ startsReceived: 0, startP50Ms: null, startP99Ms: null, cpuPct: null, fleetCpuPct: null },
    ...{ rssMiB: null, warnLines: 0, bareCpuPct: null, bareP50Ms: null, bareP99Ms: null, bareFrames: 0 },
    keepsUp: false,
  };
}

/** Every agent joined within the target, every Status acked, status delay p99 under target. */
export function keepsUp(r: LinkStepResult): boolean {
  if (r.joined !== r.agents || r.joinS > JOIN_TARGET_S) return false;
  return r.acked === r.sent && (r.statusP99Ms ?? Infinity) < STATUS_P99_TARGET_MS;
}

/** p-th percentile (0..100) of `xs`, null when empty. */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? null;
}

const fmt = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));
const pair = (a: number | null, b: number | null) => `${fmt(a)}/${fmt(b)}`;

/** Prints one row per step and the agent count where the allocator stops keeping up. */
export function printLinkTable(results: readonly LinkStepResult[], stoppedAt: number | null): void {
  const header = [
    'agents',
    'joined',
    'join s',
    'B/status',
    'status p50/p99 ms',
    'ack rtt p50/p99',
    'acked (Acks)',
    'loop p99',
    'cycle max',
  ];
  header.push('StartPod p50/p99', 'alloc CPU%', 'fleet CPU%', 'RSS MiB', 'bare CPU%', 'bare p50/p99');
  header.push('ratio', 'keeps up');
  const rows = results.map((r) => [
    ...[
      String(r.agents),
      String(r.joined),
      fmt(r.joinS),
      String(r.statusBytes),
      pair(r.statusP50Ms, r.statusP99Ms),
      pair(r.ackP50Ms, r.ackP99Ms),
    ],
    ...[`${r.acked}/${r.sent} (${r.acks})`, fmt(r.loopDelayP99Ms), fmt(r.cycleMsMax)],
    `${pair(r.startP50Ms, r.startP99Ms)} (${r.startsReceived}/${r.startsCommitted})`,
    ...[
      fmt(r.cpuPct),
      fmt(r.fleetCpuPct),
      fmt(r.rssMiB, 0),
      fmt(r.bareCpuPct),
      pair(r.bareP50Ms, r.bareP99Ms),
    ],
    r.cpuPct !== null && r.bareCpuPct ? `${(r.cpuPct / r.bareCpuPct).toFixed(2)}x` : '-',
    r.keepsUp ? 'yes' : 'no',
  ]);
  console.log(renderTable(header, rows));
  console.log(
    `targets: status p99 < ${STATUS_P99_TARGET_MS} ms, StartPod p99 < 250 ms, CPU <= 1.5x bare, all joined within ${JOIN_TARGET_S} s; ` +
      (stoppedAt === null ? 'kept up at every step' : `stops keeping up at ${stoppedAt} agents`),
  );
}
