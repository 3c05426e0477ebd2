/**
 * The scheduler's input: a frozen picture of the cluster at one instant.
 *
 * The store and link build it; the scheduler only reads it. Every quantity is normalised
 * (milli-GPU, millicores, MiB, ms) so the core never parses.
 */
import type { GpuGrant, Resources } from '../../common/resources.ts';

export type { GpuGrant } from '../../common/resources.ts';

import type { PodResources } from '../../common/workload.ts';

/** Placement strategy of a node pool (docs/architecture.md §3, "Placement"). */
export type PlacementStrategy = 'binpack' | 'spread' | 'fragmentation-aware';

/** One physical GPU as a node reported it. */
export interface GpuSnap {
  uuid: string;
  index: number;
  model: string;
  memoryMiB: number;
  healthy: boolean;
}

/** One node: its capacity, labels and the pool it belongs to. */
export interface NodeSnap {
  name: string;
  /** Node pool this node falls in (the store resolves pool selectors; unmatched nodes are `default`). */
  pool: string;
  /** Value of the `node.type` label, '' when absent. */
  nodeType: string;
  labels: Readonly<Record<string, string>>;
  gpus: readonly GpuSnap[];
  cpuMillis: number;
  memoryMiB: number;
  /** False when cordoned or lost: nothing new lands here, running pods stay. */
  schedulable: boolean;
  /**
   * Host ports its pods may be given (the size of the range its agent reports); absent: none, so it
   * hosts only pods without ports. A countable resource like CPU: each pod takes one per named port.
   */
  portCount?: number;
}

/** A node pool and how it places pods. */
export interface PoolSnap {
  name: string;
  placement: PlacementStrategy;
}

/** -1 in any field of a limit means "no limit" for that resource. */
export const UNLIMITED = -1;

/** A queue's quota in one node pool. */
export interface QuotaSnap {
  deserved: Resources;
  /** Share of spare capacity; 0 = never over quota. */
  overQuotaWeight: number;
  limit: Resources;
}

/** A department (parent null) or a project (parent = its department). */
export interface QueueSnap {
  name: string;
  parent: string | null;
  /** Creation order; older queues win ties. */
  createdOrder: number;
  /** Quotas by pool name. A department with no entry for a pool places no cap there. */
  quotas: Readonly<Record<string, QuotaSnap>>;
}

/** A pod that holds resources (bound, starting or running). */
export interface PodSnap {
  name: string;
  node: string;
  grants: readonly GpuGrant[];
  /** When the pod was bound; drives minRuntime and victim order (youngest first). */
  boundAtMs: number;
}

/** A workload as a pod group: all its pods share one request. */
export interface GroupSnap {
  id: string;
  name: string;
  /** The project it belongs to. */
  queue: string;
  priority: number;
  preemptible: boolean;
  createdAtMs: number;
  /** Pools in order of preference. */
  nodePools: readonly string[];
  /** Empty = any node type / any GPU model. */
  nodeTypes: readonly string[];
  gpuModels: readonly string[];
  /** It has an image, so it needs a node that runs containers. */
  needsContainer?: boolean;
  request: PodResources;
  /** Host ports each pod takes (its spec's named ports); absent: none. */
  portsPerPod?: number;
  /** Gang size: this many pods run together or none do. */
  minMember: number;
  /** Elastic ceiling; equals minMember for non-elastic work. */
  maxMember: number;
  pods: readonly PodSnap[];
  /** Pods protected from preemption until they have run this long. */
  minRuntimeMs: number;
  /**
   * First pod ordinal never used by this workload; the store keeps it so a pod name (`name-N`) is
   * never handed out twice, even after evictions. Absent = continue after the pods it holds.
   */
  nextPodOrdinal?: number;
  /** Set by the store when a running gang fell below minMember: since when. */
  belowMinSinceMs?: number;
  /**
   * Some of its pods are on a node that missed its lease and are kept running there (disconnect
   * policy `keep`): nothing of it is placed, grown, moved or evicted until the node is back or
   * declared dead, since a replacement could run beside the original.
   */
  unreachable?: boolean;
}

/** Knobs of a cycle; every duration in ms. */
export interface SchedulerConfig {
  /** A gang below minMember for longer than this is evicted whole (stale-gang). */
  staleGangGraceMs: number;
  /** Decayed historical usage per queue and pool (GPU milli-hours, already decayed); empty = off. */
  usage?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** How strongly past usage bends over-quota weights, 0 = not at all. */
  usageWeight?: number;
}

/** The scheduler's whole input. `nowMs` is the only clock it sees. */
export interface Snapshot {
  nowMs: number;
  nodes: readonly NodeSnap[];
  pools: readonly PoolSnap[];
  queues: readonly QueueSnap[];
  groups: readonly GroupSnap[];
  config: SchedulerConfig;
}

/** Defaults for a cycle's knobs. */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  staleGangGraceMs: 60_000,
};
