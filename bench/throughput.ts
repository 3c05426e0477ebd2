/**
 * Scheduler throughput: one cycle (`runCycle`) over a large synthetic cluster, timed, for each
 * placement strategy. Prints figures against targets; it is a benchmark, not a test, and never fails.
 *
 *   npx tsx bench/throughput.ts                       every case, each in its own process
 *   npx tsx bench/throughput.ts --case a --strategy spread --in-process
 *   npx tsx bench/throughput.ts --hash                plan hashes on a small cluster (behaviour check)
 *
 * Each (case, strategy) runs in a fresh child process when it can (started with --expose-gc), so
 * its peak RSS is its own and not what an earlier, larger run left behind. Before the measured cycle
 * a warm-up cycle runs in that process (`--warmup full`, the default: same size, another seed; or
 * `small`, `none`): a real allocator runs cycles back to back, so the cycle that counts is one with
 * warm JIT, not one that also pays for compiling the scheduler.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCycle } from '../allocator/scheduler/cycle.ts';
import type { PlacementStrategy, Snapshot } from '../allocator/scheduler/snapshot.ts';
import { bareGreedy } from './bare-greedy.ts';
import { pendingPods, syntheticCluster } from './synthetic.ts';

/** One benchmark size. */
export interface ThroughputCase {
  id: string;
  nodes: number;
  gpusPerNode: number;
  pending: number;
  projects: number;
  departments: number;
  /** Target pods placed per second of cycle. */
  targetPodsPerSec: number;
}

/** The sizes the brief asks for: (a) 1,000 nodes / 10,000 pending, (b) 5,000 nodes / 50,000 pending. */
export const THROUGHPUT_CASES: readonly ThroughputCase[] = [
  {
    id: 'a',
    nodes: 1000,
    gpusPerNode: 8,
    pending: 10_000,
    projects: 20,
    departments: 4,
    targetPodsPerSec: 10_000,
  },
  {
    id: 'b',
    nodes: 5000,
    gpusPerNode: 8,
    pending: 50_000,
    projects: 20,
    departments: 4,
    targetPodsPerSec: 5_000,
  },
];

/** What runs before the measured cycle: nothing, a 100-node cycle, or a cycle of the same size (another seed). */
export type Warmup = 'none' | 'small' | 'full';
const WARMUPS: readonly Warmup[] = ['none', 'small', 'full'];

/** Strategies each case runs with (the `default` pool's placement). */
export const THROUGHPUT_STRATEGIES: readonly PlacementStrategy[] = [
  'binpack',
  'fragmentation-aware',
  'spread',
];

const SEED = 42;

/** The figures of one (case, strategy) run. */
export interface ThroughputResult {
  caseId: string;
  strategy: PlacementStrategy;
  nodes: number;
  gpus: number;
  workloads: number;
  pendingPods: number;
  buildMs: number;
  cycleMs: number;
  /** CPU time (user + system) of the cycle: steadier than wall time on a shared machine. */
  cycleCpuMs: number;
  binds: number;
  evictions: number;
  podsPerSec: number;
  targetPodsPerSec: number;
  pendingLeft: number;
  /** Highest RSS seen at the sample points (MiB). */
  rssSampledMiB: number;
  /** The process's peak RSS from getrusage (MiB): exact, and the run's own when isolated. */
  maxRssMiB: number;
  heapUsedAfterMiB: number;
  isolated: boolean;
  /** The bare greedy loop over the same snapshot in the same process, right after. */
  bareBinds: number;
  barePodsPerSec: number;
}

const MIB = 1024 * 1024;

function snapshotFor(c: ThroughputCase, strategy: PlacementStrategy): Snapshot {
  return syntheticCluster({
    nodes: c.nodes,
    gpusPerNode: c.gpusPerNode,
    pending: c.pending,
    projects: c.projects,
    departments: c.departments,
    seed: SEED,
    placement: strategy,
  });
}

function gc(): void {
  const g: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof g === 'function') g();
}

/** Runs one (case, strategy) in this process and measures it. */
export function measure(
  c: ThroughputCase,
  strategy: PlacementStrategy,
  warmup: Warmup = 'full',
): ThroughputResult {
  let rssHigh = process.memoryUsage().rss;
  const sample = () => {
    rssHigh = Math.max(rssHigh, process.memoryUsage().rss);
  };
  if (warmup !== 'none') {
    const small = warmup === 'small';
    runCycle(
      syntheticCluster({
        nodes: small ? 100 : c.nodes,
        gpusPerNode: c.gpusPerNode,
        pending: small ? 1000 : c.pending,
        projects: c.projects,
        departments: c.departments,
        seed: SEED + 1,
        placement: strategy,
      }),
    );
    sample();
  }
  gc();
  sample();

  const t0 = performance.now();
  const snapshot = snapshotFor(c, strategy);
  const buildMs = performance.now() - t0;
  sample();

  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  const plan = runCycle(snapshot);
  const cycleMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  sample();

  const heapUsedAfter = process.memoryUsage().heapUsed;
  const binds = plan.binds.length;
  // runCycle never writes its snapshot (test/allocator/cycle/frozen-input.test.ts): the same one serves.
  bareGreedy(snapshot); // warm
  const bare = bareGreedy(snapshot);
  return {
    caseId: c.id,
    strategy,
    nodes: c.nodes,
    gpus: c.nodes * c.gpusPerNode,
    workloads: snapshot.groups.length,
    pendingPods: pendingPods(snapshot),
    buildMs,
    cycleMs,
    cycleCpuMs: (cpu.user + cpu.system) / 1000,
    binds,
    evictions: plan.evictions.length,
    podsPerSec: binds / (cycleMs / 1000),
    targetPodsPerSec: c.targetPodsPerSec,
    pendingLeft: plan.pending.length,
    rssSampledMiB: rssHigh / MIB,
    maxRssMiB: (process.resourceUsage().maxRSS * 1024) / MIB,
    heapUsedAfterMiB: heapUsedAfter / MIB,
    isolated: false,
    bareBinds: bare.binds,
    barePodsPerSec: bare.binds / (bare.ms / 1000),
  };
}

/** True when a child started with this process's flags can run this file: under tsx, or when bundled to .js. */
function canIsolate(): boolean {
  return process.execArgv.some((a) => a.includes('tsx')) || !fileURLToPath(import.meta.url).endsWith('.ts');
}

/** Runs one (case, strategy) in a fresh child process; its result comes back as JSON on stdout. */
function measureIsolated(c: ThroughputCase, strategy: PlacementStrategy, warmup: Warmup): ThroughputResult {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      '--expose-gc',
      script,
      '--case',
      c.id,
      '--strategy',
      strategy,
      '--warmup',
      warmup,
      '--in-process',
      '--json',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * MIB },
  );
  const lines = out.trim().split('\n');
  const parsed = JSON.parse(lines[lines.length - 1] ?? '{}') as ThroughputResult;
  return { ...parsed, isolated: true };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The results as a fixed-width table. */
export function formatTable(results: readonly ThroughputResult[]): string {
  const head = [
    'case',
    'strategy',
    'nodes',
    'GPUs',
    'workloads',
    'pods asked',
    'build ms',
    'cycle ms',
    'cycle CPU ms',
    'binds',
    'evictions',
    'pods/s',
    'target',
    'met',
    'pending left',
    'RSS peak MiB',
    'heap after MiB',
    'bare binds',
    'bare pods/s',
  ];
  const rows = results.map((r) => [
    r.caseId,
    r.strategy,
    fmt(r.nodes),
    fmt(r.gpus),
    fmt(r.workloads),
    fmt(r.pendingPods),
    fmt(r.buildMs, 1),
    fmt(r.cycleMs, 1),
    fmt(r.cycleCpuMs, 1),
    fmt(r.binds),
    fmt(r.evictions),
    fmt(r.podsPerSec),
    fmt(r.targetPodsPerSec),
    r.podsPerSec >= r.targetPodsPerSec ? 'yes' : 'NO',
    fmt(r.pendingLeft),
    fmt(Math.max(r.maxRssMiB, r.rssSampledMiB)),
    fmt(r.heapUsedAfterMiB),
    fmt(r.bareBinds),
    fmt(r.barePodsPerSec),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Options of `runThroughputBench`; by default every case and every strategy, each isolated. */
export interface ThroughputOptions {
  cases?: readonly string[];
  strategies?: readonly PlacementStrategy[];
  inProcess?: boolean;
  warmup?: Warmup;
}

/** Run the throughput benchmark and print its table. */
export async function runThroughputBench(opts: ThroughputOptions = {}): Promise<void> {
  const cases = THROUGHPUT_CASES.filter((c) => !opts.cases || opts.cases.includes(c.id));
  const strategies = opts.strategies ?? THROUGHPUT_STRATEGIES;
  const isolate = !opts.inProcess && canIsolate();
  const warmup = opts.warmup ?? 'full';
  console.log(
    `Scheduler throughput: one runCycle per row, seed ${SEED}, ${isolate ? 'each row in its own process' : 'all rows in this process (RSS peak is the process peak so far)'}, warm-up: ${warmup}.`,
  );
  const results: ThroughputResult[] = [];
  for (const c of cases) {
    for (const s of strategies) {
      const r = isolate ? measureIsolated(c, s, warmup) : measure(c, s, warmup);
      results.push(r);
      console.log(
        `  ${c.id} ${s}: ${fmt(r.binds)} binds in ${fmt(r.cycleMs, 1)} ms = ${fmt(r.podsPerSec)} pods/s (target ${fmt(r.targetPodsPerSec)}); bare greedy loop ${fmt(r.barePodsPerSec)} pods/s; load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
  }
  console.log('');
  console.log(formatTable(results));
  console.log('');
  console.log(
    'pods/s = binds / cycle wall seconds; cycle = runCycle (session, fair share, every action, commit); build = syntheticCluster; bare = first-fit of the same pods with nothing else (bareGreedy), same process, right after.',
  );
}

/** SHA-256 of a cycle's plan JSON: equal hashes before and after a change mean the same behaviour. */
export function planHash(snapshot: Snapshot): string {
  return createHash('sha256')
    .update(JSON.stringify(runCycle(snapshot)))
    .digest('hex');
}

/**
 * Plan hashes on small clusters, every strategy, with and without a second pool, empty or 85 % full
 * of running work (so that reclaim and preempt evict): run before and after a change to the scheduler.
 */
export function printPlanHashes(): void {
  for (const s of THROUGHPUT_STRATEGIES) {
    for (const running of [0, 0.85]) {
      for (const second of [false, true]) {
        const snapshot = syntheticCluster({
          nodes: 100,
          gpusPerNode: 8,
          pending: 1500,
          projects: 8,
          departments: 3,
          seed: 7,
          placement: s,
          running,
          ...(second ? { secondPool: { nodes: 30, placement: s } } : {}),
        });
        console.log(`${s}${running > 0 ? '+running' : ''}${second ? '+pool-b' : ''}\t${planHash(snapshot)}`);
      }
    }
  }
}

function argValue(argv: readonly string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

function isWarmup(s: string): s is Warmup {
  return (WARMUPS as readonly string[]).includes(s);
}

function isStrategy(s: string): s is PlacementStrategy {
  return (THROUGHPUT_STRATEGIES as readonly string[]).includes(s);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--hash')) {
    printPlanHashes();
    return;
  }
  const caseId = argValue(argv, '--case');
  const strategy = argValue(argv, '--strategy');
  if (strategy !== undefined && !isStrategy(strategy)) {
    throw new Error(`--strategy must be one of ${THROUGHPUT_STRATEGIES.join(', ')}`);
  }
  const w = argValue(argv, '--warmup') ?? 'full';
  if (!isWarmup(w)) throw new Error(`--warmup must be one of ${WARMUPS.join(', ')}`);
  if (caseId !== undefined && !THROUGHPUT_CASES.some((c) => c.id === caseId)) {
    throw new Error(`--case must be one of ${THROUGHPUT_CASES.map((c) => c.id).join(', ')}`);
  }
  if (argv.includes('--json')) {
    // Child mode: exactly one (case, strategy), result as the last stdout line.
    const c = THROUGHPUT_CASES.find((x) => x.id === caseId);
    if (!c || strategy === undefined) throw new Error('--json needs --case and --strategy');
    console.log(JSON.stringify(measure(c, strategy, w)));
    return;
  }
  await runThroughputBench({
    ...(caseId !== undefined ? { cases: [caseId] } : {}),
    ...(strategy !== undefined ? { strategies: [strategy] } : {}),
    inProcess: argv.includes('--in-process'),
    warmup: w,
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  await main(process.argv.slice(2));
}
