/**
 * What scheduling costs the event loop that answers agents (`npm run bench -- --only cycle`): the
 * synthetic cluster (bench/synthetic.ts) written into a real store, then its first cycle (every
 * pending workload that fits placed, committed and dispatched) and a second (nothing left to place)
 * run two ways on two copies of that store, in the same process, one after the other:
 * - inline: snapshot, runCycle, applyPlan and dispatch in one go on the event loop, as every cycle
 *   ran before the scheduler had its own thread: the event loop stalls for the whole cycle;
 * - allocator: a real allocator (startAllocator) over the copy: the scheduler's thread plans, the
 *   event loop commits and dispatches in slices. Its stall is measured by perf_hooks'
 *   monitorEventLoopDelay while the cycles run.
 * It is a benchmark, not a test, and never fails; the machine's load average is printed with each row.
 *
 *   npx tsx bench/cycle.ts [--nodes 1000,5000,10000] [--runs 3]
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startAllocator } from '../allocator/main.ts';
import { runCycle } from '../allocator/scheduler/cycle.ts';
import { createDispatcher } from '../allocator/service/dispatch.ts';
import { applyPlan } from '../allocator/store/apply-plan.ts';
import { DB_FILE, openDb } from '../allocator/store/db.ts';
import { buildSnapshot } from '../allocator/store/snapshot.ts';
import { createLogger } from '../common/log.ts';
import { storeCluster } from './store-cluster.ts';

/** Sizes and repetitions of a run. */
export interface CycleBenchOptions {
  nodes: readonly number[];
  runs: number;
}

const DEFAULTS: CycleBenchOptions = { nodes: [1000, 5000, 10_000], runs: 3 };

/** Pending workloads for a cluster of `nodes` 8-GPU nodes: ten per node, at most 50,000 (the case). */
export function pendingFor(nodes: number): number {
  return Math.min(nodes * 10, 50_000);
}

/** The figures of one (size, run), times in ms. */
export interface CycleBenchRow {
  nodes: number;
  pending: number;
  load: number;
  /** inline: the first cycle's phases, each a stall of the event loop, and their sum. */
  inline: {
    snapshotMs: number;
    planMs: number;
    applyMs: number;
    dispatchMs: number;
    totalMs: number;
    binds: number;
  };
  /** inline: the second cycle (nothing to place), whole. */
  inlineSecondMs: number;
  /** allocator: the first cycle's wall time, binds committed, and the event loop's worst and p99 delay. */
  allocator: { cycleMs: number; binds: number; stallMaxMs: number; stallP99Ms: number };
  /** allocator: the second cycle's wall time and the worst delay during it. */
  allocatorSecond: { cycleMs: number; stallMaxMs: number };
  /** The worst delay of the same allocator idle for IDLE_MS after: the machine's own noise. */
  idleStallMaxMs: number;
}

/** How long the idle floor is measured. */
const IDLE_MS = 2000;

const quietLog = () => createLogger({ stream: new Writable({ write: (_c, _e, done) => done() }) });

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

/** The inline cycle, as main.ts ran it before the scheduler's thread (less rules and teardown, which have nothing to do here). */
function inlineCycle(dataDir: string, nowMs: number) {
  const db = openDb({ dataDir });
  try {
    const dispatcher = createDispatcher(db, () => false, { heartbeatMs: 5000 });
    const [snapshot, snapshotMs] = timed(() => buildSnapshot(db, nowMs));
    const [plan, planMs] = timed(() => runCycle(snapshot));
    const [, applyMs] = timed(() => applyPlan(db, plan, nowMs));
    const [, dispatchMs] = timed(() => dispatcher.sync(nowMs));
    const [, secondMs] = timed(() => {
      const p = runCycle(buildSnapshot(db, nowMs + 1000));
      applyPlan(db, p, nowMs + 1000);
      dispatcher.sync(nowMs + 1000);
    });
    const totalMs = snapshotMs + planMs + applyMs + dispatchMs;
    return { snapshotMs, planMs, applyMs, dispatchMs, totalMs, binds: plan.binds.length, secondMs };
  } finally {
    db.close();
  }
}

/** The allocator's first two cycles over the store in `dataDir`, with the event loop's delay while they run. */
async function allocatorCycles(
  dataDir: string,
  nowMs: number,
): Promise<Pick<CycleBenchRow, 'allocator' | 'allocatorSecond' | 'idleStallMaxMs'>> {
  let binds = 0;
  const alloc = await startAllocator({
    dataDir,
    port: 0,
    log: quietLog(),
    // The store's clock stands still at the instant its nodes were last heard from: no agent is
    // connected here, and none must go silent (lease loss, disconnect policies) while cycles run.
    now: () => nowMs,
    periodicCycleMs: 3_600_000,
    // No node misses its lease while a slow run goes on: the cycle alone is measured.
    leaseMs: 3_600_000,
    onPlanCommitted: (_at, starts) => {
      binds += starts.length;
    },
  });
  try {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    while (alloc.stats().cycles < 1) await new Promise((r) => setTimeout(r, 20));
    h.disable();
    const first = {
      cycleMs: alloc.stats().lastCycleMs,
      binds,
      stallMaxMs: h.max / 1e6,
      stallP99Ms: h.percentile(99) / 1e6,
    };
    const h2 = monitorEventLoopDelay({ resolution: 5 });
    h2.enable();
    await alloc.cycleNow();
    h2.disable();
    const second = { cycleMs: alloc.stats().lastCycleMs, stallMaxMs: h2.max / 1e6 };
    // The floor: the same allocator idle for as long, on the same machine, right after.
    const h3 = monitorEventLoopDelay({ resolution: 5 });
    h3.enable();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    h3.disable();
    return { allocator: first, allocatorSecond: second, idleStallMaxMs: h3.max / 1e6 };
  } finally {
    await alloc.close();
  }
}

/** One size, one run: a fresh store, copied, each copy cycled one way. */
export async function measureCycle(nodes: number): Promise<CycleBenchRow> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-cycle-'));
  try {
    const a = join(root, 'inline');
    const b = join(root, 'allocator');
    const pending = pendingFor(nodes);
    const { db, nowMs } = storeCluster(a, {
      nodes,
      gpusPerNode: 8,
      pending,
      projects: 20,
      departments: 4,
      seed: 42,
    });
    db.close();
    mkdirSync(b);
    copyFileSync(join(a, DB_FILE), join(b, DB_FILE));
    const load = loadavg()[0] ?? 0;
    const inline = inlineCycle(a, nowMs);
    const after = await allocatorCycles(b, nowMs);
    const { secondMs, ...first } = inline;
    return { nodes, pending, load, inline: first, inlineSecondMs: secondMs, ...after };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const f0 = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** The rows as a table. */
export function formatCycleTable(rows: readonly CycleBenchRow[]): string {
  const head = [
    'nodes',
    'pending',
    'load',
    'inline: snapshot',
    'plan',
    'apply',
    'dispatch',
    '= stall ms',
    '2nd cycle stall',
    'binds',
    'allocator: cycle ms',
    'stall max',
    'p99',
    '2nd cycle ms',
    '2nd stall max',
    'idle stall max',
    'binds',
  ];
  const cells = rows.map((r) => [
    f0(r.nodes),
    f0(r.pending),
    r.load.toFixed(1),
    f0(r.inline.snapshotMs),
    f0(r.inline.planMs),
    f0(r.inline.applyMs),
    f0(r.inline.dispatchMs),
    f0(r.inline.totalMs),
    f0(r.inlineSecondMs),
    f0(r.inline.binds),
    f0(r.allocator.cycleMs),
    r.allocator.stallMaxMs.toFixed(1),
    r.allocator.stallP99Ms.toFixed(1),
    f0(r.allocatorSecond.cycleMs),
    r.allocatorSecond.stallMaxMs.toFixed(1),
    r.idleStallMaxMs.toFixed(1),
    f0(r.allocator.binds),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padStart(widths[i] ?? 0)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Runs every size `runs` times and prints the table. */
export async function runCycleBench(options: Partial<CycleBenchOptions> = {}): Promise<CycleBenchRow[]> {
  const o = { ...DEFAULTS, ...options };
  console.log(
    `Cycle stall: the first cycle over N nodes x 8 GPUs with min(10 N, 50,000) pending workloads, then a second; inline (the event loop runs the whole cycle) vs the allocator (scheduler thread, sliced commit and dispatch), ${o.runs} run(s).`,
  );
  const rows: CycleBenchRow[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const n of o.nodes) {
      const r = await measureCycle(n);
      rows.push(r);
      console.log(
        `  run ${run}, ${f0(n)} nodes (load ${r.load.toFixed(1)}): inline stall ${f0(r.inline.totalMs)} ms; allocator cycle ${f0(r.allocator.cycleMs)} ms, stall max ${r.allocator.stallMaxMs.toFixed(1)} ms p99 ${r.allocator.stallP99Ms.toFixed(1)} ms (idle: max ${r.idleStallMaxMs.toFixed(1)} ms)`,
      );
    }
  }
  console.log('');
  console.log(formatCycleTable(rows));
  return rows;
}

/** `--nodes 1000,5000` and `--runs N` from the command line. */
export function parseCycleArgs(argv: readonly string[]): Partial<CycleBenchOptions> {
  const out: Partial<CycleBenchOptions> = {};
  const at = argv.indexOf('--nodes');
  if (at >= 0)
    out.nodes = (argv[at + 1] ?? '')
      .split(',')
      .map(Number)
      .filter((n) => n > 0);
  const r = argv.indexOf('--runs');
  if (r >= 0 && Number(argv[r + 1]) > 0) out.runs = Number(argv[r + 1]);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runCycleBench(parseCycleArgs(process.argv.slice(2)));
}
