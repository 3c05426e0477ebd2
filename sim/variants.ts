/**
 * Workload variants of a trace, built the way the FGD paper builds its own (Weng et al., ATC'23,
 * section 6: its `gpushare40` workload, in Alibaba's clusterdata but not copied here, resamples the
 * trace so that sharing pods carry 40 % of GPU demand; `multigpu20` adds multi-GPU pods until they
 * carry 20 %):
 *
 * - **demand share** (`withDemandShare`): one class of GPU pods (multi-GPU, sharing) is made to carry
 *   a given share of GPU demand while the total GPU demand stays that of the original trace, so the
 *   replay's inflation and the 100 % point mean the same load. The class below its target gets
 *   copies of its own pods drawn with replacement (its shape mix is kept); the class above its
 *   target loses pods at random.
 * - **constrained** (`withGpuSpec`, section 6.5: in production about a third of GPU pods name a GPU
 *   model): a seeded random fraction of GPU pods gets `gpu_spec` = one model, drawn in proportion
 *   to that model's GPU count among the models with a node that can host the pod, so constrained
 *   demand lands where supply is and no pod is made unplaceable by its pin.
 * - **CPU-heavy** (`withCpuOnlyFactor`): the CPU-only pods multiplied (copies appended).
 *
 * Every builder is pure over a seeded generator, so a variant is a fixed trace, like a file.
 */
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import { SeededRng } from './rng.ts';
import type { TraceNode, TracePod } from './trace.ts';

/** The seed every named variant is built with (replays then run over their own seeds). */
export const VARIANT_SEED = 2023;

/** The variants `variantPods` builds, in the order reports list them. */
export const VARIANT_NAMES = [
  'default',
  'constrained33',
  'multigpu30',
  'multigpu40',
  'constrained33-multigpu30',
  'gpushare40',
  'cpu-heavy',
] as const;

/** A named variant. */
export type VariantName = (typeof VARIANT_NAMES)[number];

/** GPU milli a pod asks for in total (GPUs x milli per GPU; 0 for CPU-only). */
function demandOf(p: TracePod): number {
  return p.numGpu * p.gpuMilli;
}

/** A pod of two or more whole GPUs. */
export function isMultiGpu(p: TracePod): boolean {
  return p.numGpu > 1;
}

/** A one-GPU pod asking for less than the whole GPU. */
export function isSharing(p: TracePod): boolean {
  return p.numGpu === 1 && p.gpuMilli < 1000;
}

/** The share (0..1) of the pods' GPU demand that `inClass` pods carry. */
export function demandShare(pods: readonly TracePod[], inClass: (p: TracePod) => boolean): number {
  let all = 0;
  let part = 0;
  for (const p of pods) {
    const d = demandOf(p);
    all += d;
    if (inClass(p)) part += d;
  }
  return all === 0 ? 0 : part / all;
}

function byName(a: TracePod, b: TracePod): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `pods` resized to about `target` milli: a random subset when above it, copies appended below. */
function resized(pods: readonly TracePod[], target: number, tag: string, rng: SeededRng): TracePod[] {
  const total = pods.reduce((s, p) => s + demandOf(p), 0);
  if (total >= target) {
    const order = [...pods];
    rng.shuffle(order);
    const kept: TracePod[] = [];
    let sum = 0;
    for (const p of order) {
      if (sum >= target) break;
      kept.push(p);
      sum += demandOf(p);
    }
    return kept;
  }
  const out = [...pods];
  let sum = total;
  for (let i = 0; sum < target; i++) {
    const p = pods[rng.intn(pods.length)] as TracePod;
    out.push({ ...p, name: `${p.name}-${tag}${i}` });
    sum += demandOf(p);
  }
  return out;
}

/**
 * The pods with `inClass` GPU pods carrying `share` (0 < share < 1) of GPU demand and the other GPU
 * pods the rest, total GPU demand unchanged (to within one pod); CPU-only pods are kept as they are.
 */
export function withDemandShare(
  pods: readonly TracePod[],
  inClass: (p: TracePod) => boolean,
  share: number,
  seed = VARIANT_SEED,
): TracePod[] {
  if (!(share > 0 && share < 1))
    throw new RangeError(`share must be between 0 and 1 exclusive, got ${share}`);
  const sorted = [...pods].sort(byName);
  const cls = sorted.filter((p) => demandOf(p) > 0 && inClass(p));
  const rest = sorted.filter((p) => demandOf(p) > 0 && !inClass(p));
  if (cls.length === 0 || rest.length === 0)
    throw new RangeError('withDemandShare needs GPU pods both in and outside the class');
  const total = sorted.reduce((s, p) => s + demandOf(p), 0);
  const rng = new SeededRng(seed);
  return [
    ...sorted.filter((p) => demandOf(p) === 0),
    ...resized(rest, (1 - share) * total, 'r', rng),
    ...resized(cls, share * total, 'c', rng),
  ].sort(byName);
}

/** Whether `node` can host `pod` on an empty node: enough GPUs, CPU and memory. */
function hosts(node: TraceNode, pod: TracePod): boolean {
  return node.gpuCount >= pod.numGpu && node.cpuMillis >= pod.cpuMillis && node.memoryMiB >= pod.memoryMiB;
}

/**
 * The pods with `fraction` of GPU pods (seeded random choice) pinned to one GPU model each
 * (`gpuSpec`), the model drawn in proportion to its GPU count among models with a node that hosts
 * the pod. Pods that already name models are left alone and count toward the fraction.
 */
export function withGpuSpec(
  pods: readonly TracePod[],
  nodes: readonly TraceNode[],
  fraction: number,
  seed = VARIANT_SEED,
): TracePod[] {
  if (!(fraction >= 0 && fraction <= 1))
    throw new RangeError(`fraction must be from 0 to 1, got ${fraction}`);
  const rng = new SeededRng(seed);
  const out = [...pods].sort(byName).map((p) => ({ ...p, gpuSpec: [...p.gpuSpec] }));
  const gpuPods = out.filter((p) => p.numGpu > 0);
  const want = Math.round(fraction * gpuPods.length) - gpuPods.filter((p) => p.gpuSpec.length > 0).length;
  const free = gpuPods.filter((p) => p.gpuSpec.length === 0);
  rng.shuffle(free);
  const models = [...new Set(nodes.filter((n) => n.gpuCount > 0).map((n) => n.model))].sort();
  for (const pod of free.slice(0, Math.max(0, want))) {
    const weights = models.map((m) =>
      nodes.some((n) => n.model === m && hosts(n, pod))
        ? nodes.reduce((s, n) => s + (n.model === m ? n.gpuCount : 0), 0)
        : 0,
    );
    const sum = weights.reduce((s, w) => s + w, 0);
    if (sum === 0) continue;
    let r = rng.float64() * sum;
    let pick = 0;
    while (pick < models.length - 1 && r >= (weights[pick] ?? 0)) r -= weights[pick++] ?? 0;
    pod.gpuSpec = [models[pick] as string];
  }
  return out;
}

/** The pods with CPU-only pods multiplied by `factor` (>= 1): seeded copies appended. */
export function withCpuOnlyFactor(
  pods: readonly TracePod[],
  factor: number,
  seed = VARIANT_SEED,
): TracePod[] {
  if (!(factor >= 1)) throw new RangeError(`factor must be 1 or more, got ${factor}`);
  const sorted = [...pods].sort(byName);
  const cpuOnly = sorted.filter((p) => p.numGpu === 0);
  const rng = new SeededRng(seed);
  const copies: TracePod[] = [];
  const extra = Math.round((factor - 1) * cpuOnly.length);
  for (let i = 0; i < extra && cpuOnly.length > 0; i++) {
    const p = cpuOnly[rng.intn(cpuOnly.length)] as TracePod;
    copies.push({ ...p, name: `${p.name}-cpu${i}` });
  }
  return [...sorted, ...copies].sort(byName);
}

/** The pods of variant `name` of a trace (`default` is the trace itself). */
export function variantPods(
  name: VariantName,
  pods: readonly TracePod[],
  nodes: readonly TraceNode[],
): TracePod[] {
  switch (name) {
    case 'default':
      return [...pods];
    case 'constrained33':
      return withGpuSpec(pods, nodes, 1 / 3);
    case 'multigpu30':
      return withDemandShare(pods, isMultiGpu, 0.3);
    case 'multigpu40':
      return withDemandShare(pods, isMultiGpu, 0.4);
    case 'constrained33-multigpu30':
      return withGpuSpec(withDemandShare(pods, isMultiGpu, 0.3), nodes, 1 / 3);
    case 'gpushare40':
      return withDemandShare(pods, isSharing, 0.4);
    case 'cpu-heavy':
      return withCpuOnlyFactor(pods, 2);
  }
}

/** Parses a variant name; the error lists the accepted names. */
export function parseVariantName(s: string): Result<VariantName> {
  const found = VARIANT_NAMES.find((v) => v === s);
  return found !== undefined
    ? ok(found)
    : err(
        tesseraError(
          'TESSERA_E_INVALID_CONFIG',
          `unknown trace variant ${JSON.stringify(s)}: use one of ${VARIANT_NAMES.join(', ')}`,
          { field: 'variant' },
        ),
      );
}
