/**
 * The quality benchmark over workload variants of the default trace (sim/variants.ts): every policy
 * x every variant x seeds 42-51, unallocated GPU % at 100 % arrived (the paper's KPI, as
 * bench/quality.ts), printed as a markdown table with fragmentation-aware checked against FGD.
 *
 *   nice -n 10 npx tsx bench/quality-variants.ts [--variants a,b|all] [--policy a,b|all]
 *                                               [--seeds 42-51] [--workers N]
 *
 * Exit status 1 when fragmentation-aware leaves more GPUs unallocated than FGD on some variant.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { parsePolicies, parseSeeds } from '../cli/commands/simulate-options.ts';
import { POLICY_NAMES, type PolicyName } from '../sim/fill.ts';
import { readTraceNodes, readTracePods } from '../sim/trace.ts';
import {
  demandShare,
  isMultiGpu,
  isSharing,
  parseVariantName,
  VARIANT_NAMES,
  type VariantName,
  variantPods,
} from '../sim/variants.ts';
import { mean, PAPER_SEEDS, runJobs, traceWorkerData } from './quality.ts';

/** Options of `runVariantQuality`. */
export interface VariantQualityOptions {
  variants?: readonly VariantName[];
  policies?: readonly PolicyName[];
  seeds?: readonly number[];
  workers?: number;
}

/** One line per variant: pods, GPU demand and the shares its builder sets. */
function describeVariants(variants: readonly VariantName[]): string[] {
  const data = traceWorkerData();
  const nodes = readTraceNodes(data.nodesCsv, data.nodesFile);
  const pods = readTracePods(data.podsCsv, data.podsFile);
  if (!nodes.ok) throw new Error(nodes.error.message);
  if (!pods.ok) throw new Error(pods.error.message);
  return variants.map((v) => {
    const ps = variantPods(v, pods.value, nodes.value);
    const gpuPods = ps.filter((p) => p.numGpu > 0);
    const pinned = gpuPods.filter((p) => p.gpuSpec.length > 0).length;
    const demand = ps.reduce((s, p) => s + p.numGpu * p.gpuMilli, 0) / 1000;
    const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
    return `${v}: ${ps.length} pods, ${demand.toFixed(0)} GPUs of demand; multi-GPU ${pct(demandShare(ps, isMultiGpu))} and sharing ${pct(demandShare(ps, isSharing))} of it; ${pct(pinned / Math.max(gpuPods.length, 1))} of GPU pods pinned to a model; ${ps.length - gpuPods.length} CPU-only pods`;
  });
}

/** Runs every policy on every variant over the seeds; returns the mean per variant and policy. */
export async function runVariantQuality(
  options: VariantQualityOptions = {},
): Promise<Map<VariantName, Map<PolicyName, number>>> {
  const t0 = performance.now();
  const variants = options.variants ?? VARIANT_NAMES;
  const policies = options.policies ?? POLICY_NAMES;
  const seeds = options.seeds ?? PAPER_SEEDS;
  const jobs = variants.flatMap((variant) =>
    policies.flatMap((policy) => seeds.map((seed) => ({ policy, seed, variant }))),
  );
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), jobs.length));
  const results = await runJobs(jobs, workers, traceWorkerData());
  const means = new Map<VariantName, Map<PolicyName, number>>();
  for (const v of variants) {
    const row = new Map<PolicyName, number>();
    for (const p of policies) {
      row.set(
        p,
        mean(results.filter((r) => r.variant === v && r.policy === p).map((r) => r.unallocatedPctAt100)),
      );
    }
    means.set(v, row);
  }

  console.log(
    `quality by variant: unallocated GPU % at 100 % arrived, mean over seeds ${seeds.join(',')}, openb_node_list_gpu_node.csv`,
  );
  for (const line of describeVariants(variants)) console.log(`  ${line}`);
  console.log('');
  console.log(`| policy | ${variants.join(' | ')} |`);
  console.log(`| --- | ${variants.map(() => '---:').join(' | ')} |`);
  for (const p of policies) {
    const cells = variants.map((v) => (means.get(v)?.get(p) ?? Number.NaN).toFixed(2));
    console.log(`| ${p} | ${cells.join(' | ')} |`);
  }
  if (policies.includes('fgd') && policies.includes('fragmentation-aware')) {
    const verdict = variants.map((v) => {
      const ours = means.get(v)?.get('fragmentation-aware') ?? Number.NaN;
      const fgd = means.get(v)?.get('fgd') ?? Number.NaN;
      const d = ours - fgd;
      return `${d <= 0 ? 'ok' : 'MISS'} ${d >= 0 ? '+' : ''}${d.toFixed(2)}`;
    });
    console.log(`| fragmentation-aware - fgd | ${verdict.join(' | ')} |`);
  }
  const wall = (performance.now() - t0) / 1000;
  console.log(`\n${jobs.length} replays on ${workers} worker thread(s): ${wall.toFixed(1)} s wall`);
  return means;
}

/** Reads `--name value` from argv. */
function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function parseWorkers(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 256))
    throw new Error(`--workers ${JSON.stringify(text)}: give a whole number from 1 to 256`);
  return n;
}

function parseVariants(text: string): VariantName[] {
  if (text === 'all') return [...VARIANT_NAMES];
  return text.split(',').map((s) => {
    const r = parseVariantName(s.trim());
    if (!r.ok) throw new Error(`--variants: ${r.error.message}, a comma-separated list of them, or all`);
    return r.value;
  });
}

if (
  isMainThread &&
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  const argv = process.argv.slice(2);
  const v = flag(argv, '--variants');
  const p = flag(argv, '--policy');
  const s = flag(argv, '--seeds');
  const w = flag(argv, '--workers');
  const means = await runVariantQuality({
    ...(v === undefined ? {} : { variants: parseVariants(v) }),
    ...(p === undefined ? {} : { policies: parsePolicies(p, POLICY_NAMES) }),
    ...(s === undefined ? {} : { seeds: parseSeeds(s, '--seeds') }),
    ...(w === undefined ? {} : { workers: parseWorkers(w) }),
  });
  const behind = [...means].filter(
    ([, row]) => (row.get('fragmentation-aware') ?? 0) > (row.get('fgd') ?? Number.POSITIVE_INFINITY),
  );
  if (behind.length > 0) process.exitCode = 1;
}
