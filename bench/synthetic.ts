/**
 * A synthetic cluster for the scheduler benchmarks: H100 nodes, a department / project tree with
 * deserved quotas, and a deterministic stream of pending workloads in a realistic mix.
 *
 * Deterministic: everything random comes from one seeded PRNG, so a seed names a cluster and the
 * same options always give the same snapshot (and so, the scheduler being pure, the same plan).
 */

import type {
  GpuGrant,
  GpuSnap,
  GroupSnap,
  NodeSnap,
  PlacementStrategy,
  PoolSnap,
  QueueSnap,
  QuotaSnap,
  Snapshot,
} from '../allocator/scheduler/snapshot.ts';
import { DEFAULT_SCHEDULER_CONFIG, UNLIMITED } from '../allocator/scheduler/snapshot.ts';
import { fractionToMemoryMiB } from '../common/resources.ts';
import type { PodResources } from '../common/workload.ts';

/** The GPU every synthetic node carries: an H100 80GB as nvidia-smi reports it. */
export const SYNTHETIC_GPU_MODEL = 'NVIDIA-H100-80GB-HBM3';
/** Memory nvidia-smi reports for an H100 80GB HBM3. */
export const SYNTHETIC_GPU_MEMORY_MIB = 81_559;
/** CPU of one synthetic node: 64 cores. */
export const SYNTHETIC_NODE_CPU_MILLIS = 64_000;
/** Memory of one synthetic node: 512 GiB. */
export const SYNTHETIC_NODE_MEMORY_MIB = 512 * 1024;
/** The instant every synthetic snapshot is taken at. */
export const SYNTHETIC_NOW_MS = 1_700_000_000_000;

/** CPU and memory a pod asks per milli-GPU: 6 cores and 48 GiB per whole GPU, so GPUs run out first. */
const CPU_MILLIS_PER_GPU_MILLI = 6;
const MEMORY_MIB_PER_GPU_MILLI = 48;

/** The fraction sizes fractional workloads pick from, in milli-GPU. */
export const SYNTHETIC_FRACTIONS = [250, 500, 750] as const;

/** Options of `syntheticCluster`. */
export interface SyntheticOptions {
  /** Nodes in the `default` pool. */
  nodes: number;
  /** GPUs per node (8 on an HGX H100). */
  gpusPerNode: number;
  /** Pending workloads to generate (gang members count once: a gang is one workload). */
  pending: number;
  /** Projects in all, spread over the departments round-robin. */
  projects: number;
  departments: number;
  seed: number;
  /** Placement strategy of the `default` pool; default `binpack`. */
  placement?: PlacementStrategy;
  /**
   * An optional second pool of identical nodes. A quarter of the workloads then prefer it
   * (`nodePools: [name, 'default']`); quotas are split the same way in both pools.
   */
  secondPool?: { name?: string; nodes: number; placement?: PlacementStrategy };
  /**
   * Share of the `default` pool's GPUs (0..1) already held by running workloads; default 0. Every
   * third project holds three times as much as the others, so some projects run over their fair
   * share and reclaim and preempt have work to do. Drawn from its own PRNG stream: the pending
   * workloads are the same with or without it.
   */
  running?: number;
}

/** What kind of synthetic workload a group is, for tests and reports. */
export type SyntheticKind = 'whole' | 'fraction' | 'gang';

/** Mulberry32: a tiny, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A whole number in [lo, hi], both included. */
function intIn(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function makeNodes(count: number, gpusPerNode: number, pool: string, prefix: string): NodeSnap[] {
  const width = Math.max(5, String(count).length);
  const nodes: NodeSnap[] = [];
  for (let i = 0; i < count; i++) {
    // Zero-padded so that name order (the session's node order) is creation order.
    const name = `${prefix}-${pad(i, width)}`;
    const gpus: GpuSnap[] = [];
    for (let g = 0; g < gpusPerNode; g++) {
      gpus.push({
        uuid: `GPU-${name}-${g}`,
        index: g,
        model: SYNTHETIC_GPU_MODEL,
        memoryMiB: SYNTHETIC_GPU_MEMORY_MIB,
        healthy: true,
      });
    }
    nodes.push({
      name,
      pool,
      nodeType: 'h100',
      labels: { 'gpu.model': SYNTHETIC_GPU_MODEL, 'gpu.count': String(gpusPerNode), 'node.type': 'h100' },
      gpus,
      cpuMillis: SYNTHETIC_NODE_CPU_MILLIS,
      memoryMiB: SYNTHETIC_NODE_MEMORY_MIB,
      schedulable: true,
    });
  }
  return nodes;
}

function quota(gpuMilli: number): QuotaSnap {
  // CPU and memory deserved 0 = not set (those quotas are optional); no limits anywhere.
  return {
    deserved: { gpuMilli, cpuMillis: 0, memoryMiB: 0 },
    overQuotaWeight: 1,
    limit: { gpuMilli: UNLIMITED, cpuMillis: UNLIMITED, memoryMiB: UNLIMITED },
  };
}

/**
 * Departments and projects. Each project's deserved GPUs in a pool is its (random, 0.5..1.5) weight's
 * part of the pool, in whole GPUs rounded down, so deserved quotas sum to just under capacity; a
 * department deserves the sum of its projects'.
 */
function makeQueues(
  opts: SyntheticOptions,
  rand: () => number,
  poolGpus: ReadonlyMap<string, number>,
): QueueSnap[] {
  const weights: number[] = [];
  for (let p = 0; p < opts.projects; p++) weights.push(0.5 + rand());
  const total = weights.reduce((s, w) => s + w, 0);
  const deptQuotas: Record<string, QuotaSnap>[] = [];
  for (let d = 0; d < opts.departments; d++) deptQuotas.push({});
  const projects: QueueSnap[] = [];
  for (let p = 0; p < opts.projects; p++) {
    const d = p % opts.departments;
    const quotas: Record<string, QuotaSnap> = {};
    for (const [pool, gpus] of poolGpus) {
      const deserved = Math.floor((gpus * (weights[p] ?? 1)) / total) * 1000;
      quotas[pool] = quota(deserved);
      const dq = deptQuotas[d];
      if (dq) dq[pool] = quota((dq[pool]?.deserved.gpuMilli ?? 0) + deserved);
    }
    projects.push({
      name: `proj-${pad(p, 3)}`,
      parent: `dept-${pad(d, 2)}`,
      createdOrder: opts.departments + p,
      quotas,
    });
  }
  const departments: QueueSnap[] = deptQuotas.map((quotas, d) => ({
    name: `dept-${pad(d, 2)}`,
    parent: null,
    createdOrder: d,
    quotas,
  }));
  return [...departments, ...projects];
}

/** The kinds of `n` workloads: exactly 60 % whole GPU, 30 % fractions, the rest gangs, shuffled. */
function kindsFor(n: number, rand: () => number): SyntheticKind[] {
  const whole = Math.round(n * 0.6);
  const fraction = Math.round(n * 0.3);
  const kinds: SyntheticKind[] = [];
  for (let i = 0; i < n; i++) kinds.push(i < whole ? 'whole' : i < whole + fraction ? 'fraction' : 'gang');
  // Fisher-Yates, so the mix is exact and its order random.
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const a = kinds[i] as SyntheticKind;
    kinds[i] = kinds[j] as SyntheticKind;
    kinds[j] = a;
  }
  return kinds;
}

function podResources(gpuMilli: number, whole: boolean): PodResources {
  return {
    gpu: whole ? { kind: 'devices', count: gpuMilli / 1000 } : { kind: 'fraction', milli: gpuMilli },
    cpuMillis: gpuMilli * CPU_MILLIS_PER_GPU_MILLI,
    memoryMiB: gpuMilli * MEMORY_MIB_PER_GPU_MILLI,
  };
}

/**
 * Running workloads filling the first `share` of the default pool's GPUs in node order: 70 % one
 * whole GPU (20 % of those non-preemptible workspaces), 20 % two 0.5 fractions sharing a GPU, 10 %
 * gangs of 2-4 one-GPU pods; owners drawn with every third project three times as likely.
 */
function makeRunning(
  nodes: readonly NodeSnap[],
  projects: readonly string[],
  share: number,
  seed: number,
): GroupSnap[] {
  const rand = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  const gpus: { node: NodeSnap; gpu: GpuSnap }[] = [];
  for (const node of nodes)
    for (const gpu of node.gpus) if (node.pool === 'default') gpus.push({ node, gpu });
  const target = Math.min(gpus.length, Math.round(gpus.length * Math.max(0, share)));
  const weights = projects.map((_, p) => (p % 3 === 0 ? 3 : 1));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const owner = (): string => {
    let x = rand() * totalWeight;
    for (let p = 0; p < projects.length; p++) {
      x -= weights[p] ?? 1;
      if (x < 0) return projects[p] ?? 'proj-000';
    }
    return projects[projects.length - 1] ?? 'proj-000';
  };
  const whole = (gpu: GpuSnap): GpuGrant => ({
    uuid: gpu.uuid,
    gpuMilli: 1000,
    memoryMiB: gpu.memoryMiB,
    memoryLimitMiB: gpu.memoryMiB,
  });
  const groups: GroupSnap[] = [];
  let used = 0;
  let n = 0;
  const group = (
    request: PodResources,
    priority: number,
    pods: { node: string; grants: GpuGrant[] }[],
    size: number,
  ): void => {
    const id = `run-${pad(n++, 6)}`;
    groups.push({
      id,
      name: id,
      queue: owner(),
      priority,
      preemptible: priority < 100,
      createdAtMs: SYNTHETIC_NOW_MS - 86_400_000 + n * 1000,
      nodePools: ['default'],
      nodeTypes: [],
      gpuModels: [],
      request,
      minMember: size,
      maxMember: size,
      pods: pods.map((p, i) => ({
        name: `${id}-${i}`,
        node: p.node,
        grants: p.grants,
        boundAtMs: SYNTHETIC_NOW_MS - intIn(rand, 60_000, 3_600_000),
      })),
      minRuntimeMs: 0,
    });
  };
  while (used < target) {
    const r = rand();
    const slot = gpus[used];
    if (!slot) break;
    if (r < 0.7) {
      group(
        podResources(1000, true),
        rand() < 0.2 ? 100 : 50,
        [{ node: slot.node.name, grants: [whole(slot.gpu)] }],
        1,
      );
      used++;
    } else if (r < 0.9) {
      const memoryMiB = fractionToMemoryMiB(500, slot.gpu.memoryMiB);
      const half = (): GpuGrant => ({
        uuid: slot.gpu.uuid,
        gpuMilli: 500,
        memoryMiB,
        memoryLimitMiB: memoryMiB,
      });
      group(podResources(500, false), 50, [{ node: slot.node.name, grants: [half()] }], 1);
      group(podResources(500, false), 50, [{ node: slot.node.name, grants: [half()] }], 1);
      used++;
    } else {
      const size = Math.min(intIn(rand, 2, 4), target - used);
      const pods: { node: string; grants: GpuGrant[] }[] = [];
      for (let i = 0; i < size; i++) {
        const g = gpus[used++];
        if (g) pods.push({ node: g.node.name, grants: [whole(g.gpu)] });
      }
      group(podResources(1000, true), 50, pods, pods.length);
    }
  }
  return groups;
}

/** The kind of a synthetic group, read back from its shape. */
export function syntheticKindOf(g: GroupSnap): SyntheticKind {
  if (g.minMember > 1) return 'gang';
  return g.request.gpu.kind === 'fraction' ? 'fraction' : 'whole';
}

/**
 * A deterministic synthetic cluster (see the file header): `nodes` x `gpusPerNode` H100s (64 cores,
 * 512 GiB each) in pool `default`, `departments` x `projects` queues, and `pending` pending workloads:
 * 60 % one whole GPU (training, priority 50, preemptible), 30 % a 0.25 / 0.5 / 0.75 fraction (half
 * training, half workspace at priority 100, non-preemptible), 10 % gangs of 2-8 one-GPU pods
 * (distributed, minMember = maxMember = size). Workloads go to projects round-robin, each created
 * one second after the previous.
 */
export function syntheticCluster(opts: SyntheticOptions): Snapshot {
  if (opts.projects < 1 || opts.departments < 1 || opts.departments > opts.projects) {
    throw new Error('syntheticCluster: need 1 <= departments <= projects');
  }
  const rand = mulberry32(opts.seed);
  const nodes = makeNodes(opts.nodes, opts.gpusPerNode, 'default', 'node');
  const pools: PoolSnap[] = [{ name: 'default', placement: opts.placement ?? 'binpack' }];
  const poolGpus = new Map<string, number>([['default', opts.nodes * opts.gpusPerNode]]);
  const second = opts.secondPool;
  const secondName = second?.name ?? 'pool-b';
  if (second && second.nodes > 0) {
    nodes.push(...makeNodes(second.nodes, opts.gpusPerNode, secondName, secondName));
    pools.push({ name: secondName, placement: second.placement ?? 'binpack' });
    poolGpus.set(secondName, second.nodes * opts.gpusPerNode);
  }
  const queues = makeQueues(opts, rand, poolGpus);
  const projects = queues.filter((q) => q.parent !== null).map((q) => q.name);

  const kinds = kindsFor(opts.pending, rand);
  const width = Math.max(6, String(opts.pending).length);
  const groups: GroupSnap[] = [];
  for (let i = 0; i < opts.pending; i++) {
    const kind = kinds[i] ?? 'whole';
    const id = `wl-${pad(i, width)}`;
    let request: PodResources;
    let priority = 50;
    let size = 1;
    if (kind === 'whole') {
      request = podResources(1000, true);
    } else if (kind === 'fraction') {
      request = podResources(
        SYNTHETIC_FRACTIONS[intIn(rand, 0, SYNTHETIC_FRACTIONS.length - 1)] ?? 500,
        false,
      );
      if (rand() < 0.5) priority = 100;
    } else {
      request = podResources(1000, true);
      size = intIn(rand, 2, 8);
    }
    const prefersSecond = second !== undefined && second.nodes > 0 && rand() < 0.25;
    groups.push({
      id,
      name: id,
      queue: projects[i % projects.length] ?? 'proj-000',
      priority,
      preemptible: priority < 100,
      // Oldest first: the last workload was created a second before the snapshot.
      createdAtMs: SYNTHETIC_NOW_MS - (opts.pending - i) * 1000,
      nodePools: prefersSecond ? [secondName, 'default'] : ['default'],
      nodeTypes: [],
      gpuModels: [],
      request,
      minMember: size,
      maxMember: size,
      pods: [],
      minRuntimeMs: 0,
    });
  }

  if (opts.running !== undefined && opts.running > 0)
    groups.push(...makeRunning(nodes, projects, opts.running, opts.seed));

  return { nowMs: SYNTHETIC_NOW_MS, nodes, pools, queues, groups, config: { ...DEFAULT_SCHEDULER_CONFIG } };
}

/** Pods the pending workloads of a snapshot ask for, all gang members counted. */
export function pendingPods(snapshot: Snapshot): number {
  let n = 0;
  for (const g of snapshot.groups) n += Math.max(0, g.minMember - g.pods.length);
  return n;
}
