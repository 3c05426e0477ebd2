/**
 * The environment a pod starts with (docs/architecture.md §4): which GPUs it sees, its share of them, and the
 * variables the limiters already in the field read (HAMi-core's `libvgpu.so`, CUDA MPS), over the
 * agent's own variables. Pure but for `inheritedEnv`, which reads the agent's environment: the same
 * spec and node give the same map, so every case is a unit test.
 */
import { formatGpuMilli, type GpuGrant, MILLI_PER_GPU } from '../../common/resources.ts';
import type { PodSpec } from './types.ts';

/** One GPU of this node as the runner needs it. */
export interface NodeGpu {
  uuid: string;
  index: number;
  memoryMiB: number;
}

/** What the node offers pods beyond the GPUs themselves. */
export interface NodeEnvInfo {
  gpus: readonly NodeGpu[];
  /** HAMi-core (`libvgpu.so`) is installed: it enforces `CUDA_DEVICE_MEMORY_LIMIT_<i>` in-process. */
  hamiCore: boolean;
  /** Path of `libvgpu.so`, put first in `LD_PRELOAD`; absent when /etc/ld.so.preload already loads it. */
  hamiCoreLibrary?: string;
  /** An MPS control daemon listens here: clients get its pipe dir and per-client limits. */
  mpsPipeDir?: string;
}

/**
 * Variables the agent's own environment passes to pods by default. An allowlist, because the agent's
 * environment holds its own credentials (`TESSERA_TOKEN`) and settings that are no workload's business.
 */
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'LD_LIBRARY_PATH',
] as const;

/** The allowlisted variables of the agent's own environment (`INHERITED_ENV`): the default base env. */
export function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** Per-pod facts that are not in the spec. */
export interface PodEnvPaths {
  /** The pod's own directory; HAMi-core's shared accounting file goes there. */
  podDir?: string;
}

/**
 * Names Tessera owns. A spec's own value for any of them is dropped, not merely overridden: the
 * visible devices and limits are what the scheduler granted and what enforcement assumes, so a pod
 * that set `CUDA_VISIBLE_DEVICES` could reach GPUs it was never given, and one that set
 * `CUDA_DEVICE_MEMORY_LIMIT` (unindexed) or `CUDA_OVERSUBSCRIBE` could loosen HAMi-core's limit.
 */
const RESERVED_PREFIXES = [
  'TESSERA_',
  'CUDA_VISIBLE_DEVICES',
  'NVIDIA_VISIBLE_DEVICES',
  'CUDA_DEVICE_MEMORY_LIMIT',
  'CUDA_DEVICE_SM_LIMIT',
  'CUDA_DEVICE_MEMORY_SHARED_CACHE',
  'CUDA_OVERSUBSCRIBE',
  'GPU_CORE_UTILIZATION_POLICY',
  'CUDA_MPS_',
] as const;

/**
 * True when `name` belongs to Tessera and a spec may not set it. Filters the spec's env and the
 * inherited base env only: the agent's node env (`RunnerOptions.nodeEnv`) is Tessera's own.
 */
export function isReservedEnvName(name: string): boolean {
  return RESERVED_PREFIXES.some((p) => name.startsWith(p));
}

/** Compute share as a whole percent, rounded up so a pod never gets less than its fraction; 1..100. */
function sharePercent(gpuMilli: number): number {
  return Math.min(100, Math.max(1, Math.ceil((gpuMilli * 100) / MILLI_PER_GPU)));
}

/**
 * One number for a pod's per-GPU value when its grants differ (they normally do not): the smallest,
 * so a program that sizes itself from the single variable fits on every GPU it sees.
 */
function perGpu(grants: readonly GpuGrant[], pick: (g: GpuGrant) => number): number {
  return grants.length === 0 ? 0 : Math.min(...grants.map(pick));
}

/** The full environment Tessera adds for a pod, merged over the spec's own (Tessera's names win). */
export function podEnv(spec: PodSpec, node: NodeEnvInfo, paths: PodEnvPaths = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.env)) {
    if (!isReservedEnvName(name)) env[name] = value;
  }
  // The allocator's own (ports, peers, rendezvous): a user's MASTER_PORT stands, a TESSERA_* is ours.
  for (const [name, value] of Object.entries(spec.networkEnv ?? {})) {
    if (isReservedEnvName(name) ? name.startsWith('TESSERA_') : !(name in env)) env[name] = value;
  }
  const grants = spec.grants;
  // UUIDs, never indices: indices change with CUDA_DEVICE_ORDER and are remapped under MPS.
  const visible = grants.map((g) => g.uuid).join(',');
  env.CUDA_VISIBLE_DEVICES = visible;
  env.NVIDIA_VISIBLE_DEVICES = visible;
  const gpuMilli = perGpu(grants, (g) => g.gpuMilli);
  const limitMiB = perGpu(grants, (g) => g.memoryLimitMiB);
  env.TESSERA_GPU_COUNT = String(grants.length);
  env.TESSERA_GPU_FRACTION = formatGpuMilli(gpuMilli);
  env.TESSERA_GPU_MEMORY_LIMIT_MIB = String(limitMiB);
  env.TESSERA_GPU_MEMORY_REQUEST_MIB = String(perGpu(grants, (g) => g.memoryMiB));
  env.TESSERA_POD_ID = spec.podId;
  env.TESSERA_EPOCH = String(spec.epoch);
  env.TESSERA_WORKLOAD = spec.workload;
  env.TESSERA_PROJECT = spec.project;
  if (grants.length === 0) return env;

  if (node.hamiCore) {
    // Indices are positions in the pod's visible list: that is how HAMi-core enumerates devices.
    grants.forEach((g, i) => {
      env[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] = `${g.memoryLimitMiB}m`;
    });
    env.CUDA_DEVICE_SM_LIMIT = String(sharePercent(gpuMilli));
    if (paths.podDir !== undefined) {
      // HAMi-core accounts a pod's processes together in this file; the default (/tmp/cudevshr.cache)
      // would pool every pod on the node. The epoch is in the name because the file keeps the limits
      // it was created with, and a new assignment may carry new ones. A runtime moves it to where
      // the pod can write (runtime/hami-cache.ts): its own dir, or the container's /tmp.
      env.CUDA_DEVICE_MEMORY_SHARED_CACHE = `${paths.podDir}/hami-core-e${spec.epoch}.cache`;
    }
    if (node.hamiCoreLibrary !== undefined) {
      // The limiter must be loaded first; a spec's own preloads still follow it.
      const own = env.LD_PRELOAD;
      env.LD_PRELOAD =
        own === undefined || own === '' ? node.hamiCoreLibrary : `${node.hamiCoreLibrary}:${own}`;
    }
  }
  if (node.mpsPipeDir !== undefined) {
    env.CUDA_MPS_PIPE_DIRECTORY = node.mpsPipeDir;
    // By visible index, not UUID: NVIDIA's own device plugin switched to indices because limits keyed
    // by UUID were not applied.
    env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT = grants.map((g, i) => `${i}=${g.memoryLimitMiB}M`).join(',');
    env.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE = String(sharePercent(gpuMilli));
  }
  return env;
}

/** Grants the node cannot honour (unknown GPU, limit above the GPU's memory), as messages; [] if none. */
export function grantProblems(spec: PodSpec, node: NodeEnvInfo): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const g of spec.grants) {
    const gpu = node.gpus.find((n) => n.uuid === g.uuid);
    if (gpu === undefined) {
      problems.push(`grant names GPU ${g.uuid}, which this node does not have`);
      continue;
    }
    if (seen.has(g.uuid)) problems.push(`GPU ${g.uuid} is granted twice`);
    seen.add(g.uuid);
    if (g.gpuMilli <= 0 || g.gpuMilli > MILLI_PER_GPU) {
      problems.push(`GPU ${g.uuid}: gpuMilli ${g.gpuMilli} is outside 1..${MILLI_PER_GPU}`);
    }
    if (g.memoryLimitMiB < g.memoryMiB) {
      problems.push(`GPU ${g.uuid}: memoryLimitMiB ${g.memoryLimitMiB} is below memoryMiB ${g.memoryMiB}`);
    }
    if (g.memoryLimitMiB > gpu.memoryMiB) {
      problems.push(
        `GPU ${g.uuid}: memoryLimitMiB ${g.memoryLimitMiB} exceeds the GPU's ${gpu.memoryMiB} MiB`,
      );
    }
  }
  return problems;
}

/**
 * The whole environment a pod's process starts with, lowest precedence first: the base (the agent's
 * allowlisted variables), the node env (the agent's own settings for every pod), then `podEnv` (the
 * spec's variables, and Tessera's per-pod names over them). The reserved-name filter applies to the
 * base and to the spec's env, never to the node env: it keeps a workload, or the agent's inherited
 * environment with its credentials, from setting Tessera's names, while the node env is Tessera's own.
 */
export function podProcessEnv(
  base: Readonly<Record<string, string>>,
  nodeEnv: Readonly<Record<string, string>>,
  spec: PodSpec,
  node: NodeEnvInfo,
  paths: PodEnvPaths = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!isReservedEnvName(k)) env[k] = v;
  return Object.assign(env, nodeEnv, podEnv(spec, node, paths));
}
