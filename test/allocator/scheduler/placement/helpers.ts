/** Small builders for placement tests: nodes, GPUs and requests with defaults. */
import type {
  GpuState,
  NodeState,
  PlacementRequest,
} from '../../../../allocator/scheduler/placement/types.ts';

/** A GPU with `freeMilli` free (memory free in proportion unless given). */
export function gpu(index: number, freeMilli = 1000, opts: Partial<GpuState> = {}): GpuState {
  const memoryMiB = opts.memoryMiB ?? 10_000;
  return {
    uuid: `gpu-${index}`,
    index,
    model: 'A100',
    memoryMiB,
    healthy: true,
    freeMilli,
    freeMemoryMiB: Math.floor((freeMilli * memoryMiB) / 1000),
    ...opts,
  };
}

/** A schedulable node in pool `default` with the given GPUs and plenty of CPU and memory. */
export function node(name: string, gpus: GpuState[], opts: Partial<NodeState> = {}): NodeState {
  const cpuMillis = opts.cpuMillis ?? 64_000;
  const memoryMiB = opts.memoryMiB ?? 256_000;
  return {
    name,
    pool: 'default',
    nodeType: '',
    labels: {},
    schedulable: true,
    gpus: gpus.map((g) => ({ ...g, uuid: `${name}-${g.uuid}` })),
    cpuMillis,
    memoryMiB,
    cpuFreeMillis: cpuMillis,
    memoryFreeMiB: memoryMiB,
    portCount: 0,
    portsFree: 0,
    ...opts,
  };
}

/** `n` fully free GPUs. */
export function gpus(n: number, opts: Partial<GpuState> = {}): GpuState[] {
  return Array.from({ length: n }, (_, i) => gpu(i, 1000, opts));
}

/** A request; CPU-only unless a GPU shape is given. */
export function req(r: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    gpuCount: 0,
    gpuMilli: 0,
    gpuMemoryMiB: 0,
    cpuMillis: 1000,
    memoryMiB: 1000,
    ports: 0,
    gpuModels: [],
    nodeTypes: [],
    ...r,
  };
}
