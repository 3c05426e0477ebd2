/**
 * The one writer of `NodeState` free capacity. The allocator's session and statement and both modes
 * of `tessera simulate` change a node's books only here (and then call `placer.update(node)`), so
 * the replay keeps them exactly as a cycle does.
 *
 * A placement and a release are checked: a placement takes no more than a healthy GPU, the node's
 * CPU or its memory has free; a release gives back no more than the capacity. A violation throws a
 * `CapacityError` rather than returning a Result: it is a bug in the caller (it placed without
 * asking `fits`, or released twice), never a state of the cluster, so a caller could do nothing
 * with it but stop, and books gone wrong would corrupt every later decision. The cycle stays pure:
 * the same snapshot throws the same error.
 *
 * A pod the cluster already runs is charged as it is (`chargeGrants`), unchecked: it holds its
 * resources whatever its node has left, and a node that came back smaller or a GPU gone unhealthy
 * under it leaves free capacity below zero, where nothing new fits until pods end.
 */
import { MILLI_PER_GPU } from '../../../common/resources.ts';
import type { GpuGrant } from '../snapshot.ts';
import type { GpuState, GpuTake, NodeState, PlacementRequest } from './types.ts';

/** The CPU, memory and host ports a placement takes besides its GPUs. */
export type HostShare = Pick<PlacementRequest, 'cpuMillis' | 'memoryMiB' | 'ports'>;

/** A capacity write that would over-commit a node or give back more than it has: a caller's bug. */
export class CapacityError extends Error {
  /** The node whose books the write would break. */
  readonly node: string;
  /** The GPU index, when the GPU (not the node's CPU or memory) is what would break. */
  readonly gpu: number | undefined;

  constructor(node: string, gpu: number | undefined, message: string) {
    super(`node ${node}${gpu === undefined ? '' : ` GPU ${gpu}`}: ${message}`);
    this.name = 'CapacityError';
    this.node = node;
    this.gpu = gpu;
  }
}

/** What one write does to one GPU. Resolved to the GPU itself so indexes reported twice stay apart. */
interface GpuPart {
  gpu: GpuState;
  gpuMilli: number;
  memoryMiB: number;
}

function gpuByIndex(node: NodeState, index: number): GpuState {
  for (const g of node.gpus) if (g.index === index) return g;
  throw new CapacityError(node.name, index, 'no such GPU');
}

function partsOfTakes(node: NodeState, takes: readonly GpuTake[]): GpuPart[] {
  return takes.map((t) => ({ gpu: gpuByIndex(node, t.index), gpuMilli: t.gpuMilli, memoryMiB: t.memoryMiB }));
}

/**
 * A grant on a GPU its node no longer reports (removed while the pod ran) holds nothing here: it
 * was never charged, so it is skipped both ways and the books stay even.
 */
function partsOfGrants(node: NodeState, grants: readonly GpuGrant[]): GpuPart[] {
  const out: GpuPart[] = [];
  for (const gr of grants) {
    const gpu = node.gpus.find((g) => g.uuid === gr.uuid);
    if (gpu !== undefined) out.push({ gpu, gpuMilli: gr.gpuMilli, memoryMiB: gr.memoryMiB });
  }
  return out;
}

/** What `parts` ask of `gpu` in all (a write could name one GPU twice). */
function sumOn(parts: readonly GpuPart[], gpu: GpuState): { milli: number; memoryMiB: number } {
  let milli = 0;
  let memoryMiB = 0;
  for (const p of parts) {
    if (p.gpu !== gpu) continue;
    milli += p.gpuMilli;
    memoryMiB += p.memoryMiB;
  }
  return { milli, memoryMiB };
}

function checkAmounts(node: NodeState, parts: readonly GpuPart[], host: HostShare): void {
  // A negative amount would write the other way round and dodge the check meant for that way.
  if (host.cpuMillis < 0 || host.memoryMiB < 0 || host.ports < 0)
    throw new CapacityError(
      node.name,
      undefined,
      `negative CPU ${host.cpuMillis}, memory ${host.memoryMiB} or ports ${host.ports}`,
    );
  for (const p of parts)
    if (p.gpuMilli < 0 || p.memoryMiB < 0)
      throw new CapacityError(
        node.name,
        p.gpu.index,
        `negative milli ${p.gpuMilli} or memory ${p.memoryMiB}`,
      );
}

function take(node: NodeState, parts: readonly GpuPart[], host: HostShare): void {
  for (const p of parts) {
    p.gpu.freeMilli -= p.gpuMilli;
    p.gpu.freeMemoryMiB -= p.memoryMiB;
  }
  node.cpuFreeMillis -= host.cpuMillis;
  node.memoryFreeMiB -= host.memoryMiB;
  node.portsFree -= host.ports;
}

function give(node: NodeState, parts: readonly GpuPart[], host: HostShare): void {
  for (const p of parts) {
    p.gpu.freeMilli += p.gpuMilli;
    p.gpu.freeMemoryMiB += p.memoryMiB;
  }
  node.cpuFreeMillis += host.cpuMillis;
  node.memoryFreeMiB += host.memoryMiB;
  node.portsFree += host.ports;
}

function checkedTake(node: NodeState, parts: readonly GpuPart[], host: HostShare): void {
  checkAmounts(node, parts, host);
  if (node.cpuFreeMillis < host.cpuMillis || node.memoryFreeMiB < host.memoryMiB) {
    throw new CapacityError(
      node.name,
      undefined,
      `placing would over-commit CPU or memory (needs ${host.cpuMillis} mCPU and ${host.memoryMiB} MiB, ` +
        `${node.cpuFreeMillis} and ${node.memoryFreeMiB} free)`,
    );
  }
  if (node.portsFree < host.ports)
    throw new CapacityError(
      node.name,
      undefined,
      `placing would over-commit its host ports (needs ${host.ports}, ${node.portsFree} free)`,
    );
  for (const p of parts) {
    const want = sumOn(parts, p.gpu);
    if (!p.gpu.healthy || p.gpu.freeMilli < want.milli || p.gpu.freeMemoryMiB < want.memoryMiB) {
      throw new CapacityError(
        node.name,
        p.gpu.index,
        `placing would over-commit it (needs ${want.milli} milli and ${want.memoryMiB} MiB, ` +
          `${p.gpu.freeMilli} and ${p.gpu.freeMemoryMiB} free${p.gpu.healthy ? '' : ', unhealthy'})`,
      );
    }
  }
  take(node, parts, host);
}

function checkedGive(node: NodeState, parts: readonly GpuPart[], host: HostShare): void {
  checkAmounts(node, parts, host);
  for (const p of parts) {
    const back = sumOn(parts, p.gpu);
    if (
      p.gpu.freeMilli + back.milli > MILLI_PER_GPU ||
      p.gpu.freeMemoryMiB + back.memoryMiB > p.gpu.memoryMiB
    ) {
      throw new CapacityError(
        node.name,
        p.gpu.index,
        `release exceeds its capacity (gives back ${back.milli} milli and ${back.memoryMiB} MiB, ` +
          `${p.gpu.freeMilli} and ${p.gpu.freeMemoryMiB} of ${MILLI_PER_GPU} and ${p.gpu.memoryMiB} free)`,
      );
    }
  }
  if (
    node.cpuFreeMillis + host.cpuMillis > node.cpuMillis ||
    node.memoryFreeMiB + host.memoryMiB > node.memoryMiB
  ) {
    throw new CapacityError(
      node.name,
      undefined,
      `release exceeds its CPU or memory capacity (gives back ${host.cpuMillis} mCPU and ${host.memoryMiB} MiB, ` +
        `${node.cpuFreeMillis} of ${node.cpuMillis} and ${node.memoryFreeMiB} of ${node.memoryMiB} free)`,
    );
  }
  if (node.portsFree + host.ports > node.portCount)
    throw new CapacityError(
      node.name,
      undefined,
      `release exceeds its host ports (gives back ${host.ports}, ${node.portsFree} of ${node.portCount} free)`,
    );
  give(node, parts, host);
}

/** Takes `gpus` (by index) plus the request's CPU and memory from `node`; throws if anything would over-commit. */
export function applyPlacement(node: NodeState, gpus: readonly GpuTake[], req: HostShare): void {
  checkedTake(node, partsOfTakes(node, gpus), req);
}

/** Gives back what `applyPlacement` took; throws if that would exceed the node's capacity. */
export function releasePlacement(node: NodeState, gpus: readonly GpuTake[], req: HostShare): void {
  checkedGive(node, partsOfTakes(node, gpus), req);
}

/** Charges a pod the cluster already runs (by GPU uuid), unchecked: see the file's comment. */
export function chargeGrants(node: NodeState, grants: readonly GpuGrant[], req: HostShare): void {
  take(node, partsOfGrants(node, grants), req);
}

/** Gives back a bound pod's grants (by GPU uuid) and its CPU and memory; throws if that would exceed capacity. */
export function releaseGrants(node: NodeState, grants: readonly GpuGrant[], req: HostShare): void {
  checkedGive(node, partsOfGrants(node, grants), req);
}

/**
 * Turns a placement's takes into the grants the plan and the agent understand. The memory limit is
 * the request unless `memoryLimitMiB` says otherwise for that GPU (a dynamic fraction's).
 */
export function takesToGrants(
  node: NodeState,
  gpus: readonly GpuTake[],
  memoryLimitMiB: (gpu: GpuState, take: GpuTake) => number = (_gpu, t) => t.memoryMiB,
): GpuGrant[] {
  return gpus.map((t) => {
    const g = gpuByIndex(node, t.index);
    return {
      uuid: g.uuid,
      gpuMilli: t.gpuMilli,
      memoryMiB: t.memoryMiB,
      memoryLimitMiB: memoryLimitMiB(g, t),
    };
  });
}
