/**
 * Pure feasibility: can a node (and which of its GPUs) take a request, right now?
 *
 * Every placer, every score policy and the trace replay ask these functions, so "fits" means
 * one thing everywhere. A GPU's tenants never exceed 1000 milli or its memory (docs/architecture.md §2):
 * a share needs both the compute and the memory it implies on that GPU.
 */
import { fractionToMemoryMiB, MILLI_PER_GPU, memoryToGpuMilli } from '../../../common/resources.ts';
import { RUNTIME_LABEL } from '../../../common/workload-container.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from './types.ts';

/** The GPU shape of a request: whole GPUs, a share by milli, a share by memory, or no GPU. */
export type GpuShape = 'whole' | 'milli' | 'memory' | 'none';

/** Which GPU shape a request has; `gpuCount` wins over `gpuMilli` over `gpuMemoryMiB`. */
export function gpuShapeOf(req: PlacementRequest): GpuShape {
  if (req.gpuCount > 0) return 'whole';
  if (req.gpuMilli > 0) return 'milli';
  if (req.gpuMemoryMiB > 0) return 'memory';
  return 'none';
}

/** True when `model` passes a model filter (empty filter = any model). */
export function modelAllowed(model: string, models: readonly string[]): boolean {
  return models.length === 0 || models.includes(model);
}

/** A healthy GPU with nothing on it: all compute and all memory free. */
export function isFullyFree(gpu: GpuState): boolean {
  return gpu.healthy && gpu.freeMilli === MILLI_PER_GPU && gpu.freeMemoryMiB === gpu.memoryMiB;
}

/** Milli a share request needs on this GPU (a memory-sized share: ceil(memory x 1000 / GPU memory)). */
export function shareMilliOn(gpu: GpuState, req: PlacementRequest): number {
  if (req.gpuMilli > 0) return Math.min(req.gpuMilli, MILLI_PER_GPU);
  return memoryToGpuMilli(req.gpuMemoryMiB, gpu.memoryMiB);
}

/** GPU memory a share request takes on this GPU (a milli share carries floor(milli x memory / 1000)). */
export function shareMemoryOn(gpu: GpuState, req: PlacementRequest): number {
  if (req.gpuMilli > 0) return fractionToMemoryMiB(Math.min(req.gpuMilli, MILLI_PER_GPU), gpu.memoryMiB);
  return req.gpuMemoryMiB;
}

/** True when this one GPU can host the share request (healthy, model, compute and memory free). */
export function gpuFitsShare(gpu: GpuState, req: PlacementRequest): boolean {
  if (!gpu.healthy || !modelAllowed(gpu.model, req.gpuModels)) return false;
  return gpu.freeMilli >= shareMilliOn(gpu, req) && gpu.freeMemoryMiB >= shareMemoryOn(gpu, req);
}

/** True when this GPU can be handed out whole for the request (fully free, model allowed). */
export function gpuFitsWhole(gpu: GpuState, req: PlacementRequest): boolean {
  return isFullyFree(gpu) && modelAllowed(gpu.model, req.gpuModels);
}

/** True when the node's agent runs containers, where the request needs them. */
export function runtimeAdmits(node: Pick<NodeState, 'labels'>, req: PlacementRequest): boolean {
  return req.needsContainer !== true || node.labels[RUNTIME_LABEL] === 'container';
}

/** The node-level filters: schedulable, node type, runtime, CPU, memory and host ports free (no GPU check, no pool). */
export function nodeAdmits(node: NodeState, req: PlacementRequest): boolean {
  return nodeAdmitsExceptMemory(node, req) && node.memoryFreeMiB >= req.memoryMiB;
}

/** `nodeAdmits` without the memory test (score indexes are shared by requests differing only in memory). */
export function nodeAdmitsExceptMemory(node: NodeState, req: PlacementRequest): boolean {
  if (!node.schedulable || !runtimeAdmits(node, req)) return false;
  if (req.nodeTypes.length > 0 && !req.nodeTypes.includes(node.nodeType)) return false;
  return node.cpuFreeMillis >= req.cpuMillis && node.portsFree >= req.ports;
}

/** True when the node's GPUs can serve the request's GPU shape (ignores CPU and memory). */
export function gpusFit(node: NodeState, req: PlacementRequest): boolean {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return true;
  if (shape === 'whole') {
    let n = 0;
    for (const g of node.gpus) if (gpuFitsWhole(g, req) && ++n >= req.gpuCount) return true;
    return false;
  }
  for (const g of node.gpus) if (gpuFitsShare(g, req)) return true;
  return false;
}

/** Full feasibility of `req` on `node`, optionally restricted to `pool`. */
export function fits(node: NodeState, req: PlacementRequest, pool?: string): boolean {
  if (pool !== undefined && node.pool !== pool) return false;
  return nodeAdmits(node, req) && gpusFit(node, req);
}

/** The take of a share request on one GPU. */
export function shareTake(gpu: GpuState, req: PlacementRequest): GpuTake {
  return { index: gpu.index, gpuMilli: shareMilliOn(gpu, req), memoryMiB: shareMemoryOn(gpu, req) };
}

/**
 * Whole GPUs for a `gpuCount` request: the first fully free ones by index, as the FGD simulator's
 * `AllocateExclusiveGpuId` does (fgd-method.md §3.5); null when too few.
 */
export function firstWholeGpus(node: NodeState, req: PlacementRequest): GpuTake[] | null {
  const sorted = [...node.gpus].sort((a, b) => a.index - b.index);
  const out: GpuTake[] = [];
  for (const g of sorted) {
    if (out.length === req.gpuCount) break;
    if (gpuFitsWhole(g, req)) out.push({ index: g.index, gpuMilli: MILLI_PER_GPU, memoryMiB: g.memoryMiB });
  }
  return out.length === req.gpuCount ? out : null;
}

/**
 * The share GPU that best fits: least free milli that still fits, lowest index on ties
 * (the simulator's `allocateGpuIdBasedOnBestFit`, used by BestFit, GpuPacking and DotProd).
 */
export function bestFitShareGpu(node: NodeState, req: PlacementRequest): GpuState | null {
  let best: GpuState | null = null;
  for (const g of node.gpus) {
    if (!gpuFitsShare(g, req)) continue;
    if (
      best === null ||
      g.freeMilli < best.freeMilli ||
      (g.freeMilli === best.freeMilli && g.index < best.index)
    )
      best = g;
  }
  return best;
}

/** GPUs by the best-fit rule: whole requests take the first free GPUs, shares the tightest GPU. */
export function bestFitGpus(node: NodeState, req: PlacementRequest): GpuTake[] {
  const shape = gpuShapeOf(req);
  if (shape === 'none') return [];
  if (shape === 'whole') return firstWholeGpus(node, req) ?? [];
  const g = bestFitShareGpu(node, req);
  return g === null ? [] : [shareTake(g, req)];
}

/** Free milli on healthy GPUs of the node. */
export function freeGpuMilli(node: NodeState): number {
  let s = 0;
  for (const g of node.gpus) if (g.healthy) s += g.freeMilli;
  return s;
}

/** Number of fully free healthy GPUs on the node. */
export function fullyFreeCount(node: NodeState): number {
  let n = 0;
  for (const g of node.gpus) if (isFullyFree(g)) n++;
  return n;
}

/** Total milli a request takes across its GPUs (a share: its milli; whole: 1000 each). */
export function takenMilli(gpus: readonly GpuTake[]): number {
  let s = 0;
  for (const t of gpus) s += t.gpuMilli;
  return s;
}
