/**
 * The only writers of `NodeState` free capacity: take a placement, give it back.
 *
 * The allocator's statement and the trace replay both call these and then `placer.update(node)`,
 * so a node's books are kept one way. They throw on an over-commit: that is a bug in the caller
 * (it placed without asking `fits`), and silently going negative would corrupt every later decision.
 */
import type { GpuGrant } from '../snapshot.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from './types.ts';

function gpuByIndex(node: NodeState, index: number): GpuState {
  for (const g of node.gpus) if (g.index === index) return g;
  throw new Error(`node ${node.name} has no GPU with index ${index}`);
}

/** Takes `gpus` plus the request's CPU and memory from `node`; throws if anything would over-commit. */
export function applyPlacement(node: NodeState, gpus: readonly GpuTake[], req: PlacementRequest): void {
  if (node.cpuFreeMillis < req.cpuMillis || node.memoryFreeMiB < req.memoryMiB) {
    throw new Error(`node ${node.name}: placing would over-commit CPU or memory`);
  }
  for (const t of gpus) {
    const g = gpuByIndex(node, t.index);
    if (!g.healthy || g.freeMilli < t.gpuMilli || g.freeMemoryMiB < t.memoryMiB) {
      throw new Error(`node ${node.name} GPU ${t.index}: placing would over-commit it`);
    }
  }
  for (const t of gpus) {
    const g = gpuByIndex(node, t.index);
    g.freeMilli -= t.gpuMilli;
    g.freeMemoryMiB -= t.memoryMiB;
  }
  node.cpuFreeMillis -= req.cpuMillis;
  node.memoryFreeMiB -= req.memoryMiB;
}

/** Gives back what `applyPlacement` took; throws if that would exceed the node's capacity. */
export function releasePlacement(
  node: NodeState,
  gpus: readonly GpuTake[],
  req: Pick<PlacementRequest, 'cpuMillis' | 'memoryMiB'>,
): void {
  for (const t of gpus) {
    const g = gpuByIndex(node, t.index);
    if (g.freeMilli + t.gpuMilli > 1000 || g.freeMemoryMiB + t.memoryMiB > g.memoryMiB) {
      throw new Error(`node ${node.name} GPU ${t.index}: release exceeds its capacity`);
    }
  }
  if (
    node.cpuFreeMillis + req.cpuMillis > node.cpuMillis ||
    node.memoryFreeMiB + req.memoryMiB > node.memoryMiB
  ) {
    throw new Error(`node ${node.name}: release exceeds its CPU or memory capacity`);
  }
  for (const t of gpus) {
    const g = gpuByIndex(node, t.index);
    g.freeMilli += t.gpuMilli;
    g.freeMemoryMiB += t.memoryMiB;
  }
  node.cpuFreeMillis += req.cpuMillis;
  node.memoryFreeMiB += req.memoryMiB;
}

/** Gives back a bound pod's grants (by GPU uuid) and its CPU and memory. */
export function releaseGrants(
  node: NodeState,
  grants: readonly GpuGrant[],
  req: Pick<PlacementRequest, 'cpuMillis' | 'memoryMiB'>,
): void {
  const takes: GpuTake[] = grants.map((gr) => {
    const g = node.gpus.find((x) => x.uuid === gr.uuid);
    if (g === undefined) throw new Error(`node ${node.name} has no GPU ${gr.uuid}`);
    return { index: g.index, gpuMilli: gr.gpuMilli, memoryMiB: gr.memoryMiB };
  });
  releasePlacement(node, takes, req);
}

/** Turns a placement's takes into grants the plan and the agent understand (limit = request). */
export function takesToGrants(node: NodeState, gpus: readonly GpuTake[]): GpuGrant[] {
  return gpus.map((t) => {
    const g = gpuByIndex(node, t.index);
    return { uuid: g.uuid, gpuMilli: t.gpuMilli, memoryMiB: t.memoryMiB, memoryLimitMiB: t.memoryMiB };
  });
}
