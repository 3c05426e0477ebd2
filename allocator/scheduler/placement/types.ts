/**
 * The working state placement reads and the statement mutates: free capacity per node and GPU.
 *
 * Shared by the allocator's cycle and `tessera simulate`, so both score the same way.
 */
import type { PlacementStrategy } from '../snapshot.ts';

/** One GPU's free capacity during a cycle. */
export interface GpuState {
  uuid: string;
  index: number;
  model: string;
  memoryMiB: number;
  healthy: boolean;
  freeMilli: number;
  freeMemoryMiB: number;
}

/** One node's free capacity during a cycle. */
export interface NodeState {
  name: string;
  pool: string;
  nodeType: string;
  labels: Readonly<Record<string, string>>;
  schedulable: boolean;
  gpus: GpuState[];
  cpuMillis: number;
  memoryMiB: number;
  cpuFreeMillis: number;
  memoryFreeMiB: number;
  /** Host ports its pods may be given in all (0: it reports no range), and those no pod holds. */
  portCount: number;
  portsFree: number;
}

/** One pod's needs, normalised for placement. Exactly one GPU shape is non-zero (or none). */
export interface PlacementRequest {
  /** Whole GPUs on one node. */
  gpuCount: number;
  /** A share of one GPU by portion (milli). */
  gpuMilli: number;
  /** A share of one GPU by memory (MiB); its milli follows from the GPU it lands on. */
  gpuMemoryMiB: number;
  cpuMillis: number;
  memoryMiB: number;
  /** Host ports the pod takes on its node, one per named port. */
  ports: number;
  /** Empty = any. */
  gpuModels: readonly string[];
  nodeTypes: readonly string[];
  /** It has an image: only nodes whose agent runs containers (label RUNTIME_LABEL) may take it. */
  needsContainer?: boolean;
}

/** What one GPU gives in a placement. */
export interface GpuTake {
  index: number;
  gpuMilli: number;
  memoryMiB: number;
}

/** Where a pod goes. */
export interface Placement {
  node: NodeState;
  gpus: GpuTake[];
}

/** Finds the node and GPUs for a pod in a pool, by that pool's strategy. */
export interface Placer {
  /** Best placement among schedulable nodes of `pool` passing the request's filters, or null. */
  place(pool: string, req: PlacementRequest, strategy: PlacementStrategy): Placement | null;
  /**
   * The GPUs `req` would take on this one node, chosen by `strategy`, or null when it does not fit
   * there (filters included). Reclaim, preempt and consolidate use it to test a node after evictions.
   */
  placeOn(node: NodeState, req: PlacementRequest, strategy: PlacementStrategy): GpuTake[] | null;
  /** Must be called after a node's free capacity changed, so indexes stay true. */
  update(node: NodeState): void;
  /** Why nothing in `pool` fits `req`, in words a user can act on. */
  explainNoFit(pool: string, req: PlacementRequest): string;
}
