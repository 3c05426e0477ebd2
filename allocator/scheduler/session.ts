/**
 * The working copy of a snapshot for one cycle: free capacity, live queue allocations and the
 * pods each group holds. Actions read it; only the statement changes it, and node capacity only
 * through placement/mutate.ts.
 */
import { addRes, memoryToGpuMilli, type Resources, zeroRes } from '../../common/resources.ts';
import type { PodResources } from '../../common/workload.ts';
import { computeFairShares, type QueueShare } from './fairshare.ts';
import {
  chargeGrants,
  createPlacer,
  type MixPod,
  mixPodOfRequest,
  type TargetMix,
  targetMixFromPods,
} from './placement/index.ts';
import type { NodeState, PlacementRequest, Placer } from './placement/types.ts';
import type { PendingReason } from './plan.ts';
import type {
  GpuGrant,
  GroupSnap,
  PlacementStrategy,
  PoolSnap,
  QueueSnap,
  SchedulerConfig,
  Snapshot,
} from './snapshot.ts';

/** A pod holding resources during the cycle (from the snapshot, or bound by this cycle). */
export interface PodState {
  name: string;
  group: GroupState;
  node: string;
  pool: string;
  grants: GpuGrant[];
  boundAtMs: number;
  resources: Resources;
}

/** A pod group during the cycle. */
export interface GroupState {
  snap: GroupSnap;
  pods: PodState[];
  req: PlacementRequest;
  /** Why it could not be placed, set by the last action that tried. */
  pendingReason?: string;
  /** Next free pod ordinal, so new pod names never collide with old ones. */
  nextOrdinal: number;
}

/** Everything the actions share during one cycle. */
export interface Session {
  nowMs: number;
  config: SchedulerConfig;
  nodes: Map<string, NodeState>;
  pools: Map<string, PoolSnap>;
  queues: Map<string, QueueSnap>;
  groups: GroupState[];
  placer: Placer;
  /** Fair shares computed once at the start of the cycle, as KAI does. */
  shares: Map<string, Map<string, QueueShare>>;
  /** Live per queue (projects and departments), per pool: what pods hold. */
  allocated: Map<string, Map<string, Resources>>;
  /** Live per queue, per pool: what non-preemptible pods hold (they must stay within deserved). */
  allocatedNonPreemptible: Map<string, Map<string, Resources>>;
  /** Nodes of each pool, in name order. */
  nodesByPool: Map<string, NodeState[]>;
  /** Live: the pods on each node, so victim searches never scan every group. */
  podsByNode: Map<string, Set<PodState>>;
}

/** The pool's placement strategy; pools nobody configured pack (Run:ai's default). */
export function strategyOf(session: Session, pool: string): PlacementStrategy {
  return session.pools.get(pool)?.placement ?? 'binpack';
}

/** A pod request in placement terms. */
export function toPlacementRequest(group: GroupSnap): PlacementRequest {
  const r: PodResources = group.request;
  return {
    gpuCount: r.gpu.kind === 'devices' ? r.gpu.count : 0,
    gpuMilli: r.gpu.kind === 'fraction' ? r.gpu.milli : 0,
    gpuMemoryMiB: r.gpu.kind === 'memory' ? r.gpu.memoryMiB : 0,
    cpuMillis: r.cpuMillis,
    memoryMiB: r.memoryMiB,
    ports: group.portsPerPod ?? 0,
    gpuModels: group.gpuModels,
    nodeTypes: group.nodeTypes,
    needsContainer: group.needsContainer === true,
  };
}

/** What one pod of this request takes from quota, sizing memory-based fractions by `gpuMemoryMiB`. */
export function requestResources(req: PlacementRequest, gpuMemoryMiB: number): Resources {
  let gpuMilli = req.gpuCount * 1000 + req.gpuMilli;
  if (req.gpuMemoryMiB > 0)
    gpuMilli = gpuMemoryMiB > 0 ? memoryToGpuMilli(req.gpuMemoryMiB, gpuMemoryMiB) : 1000;
  return { gpuMilli, cpuMillis: req.cpuMillis, memoryMiB: req.memoryMiB };
}

/** What granted GPUs plus the pod's CPU and memory amount to. */
export function grantResources(grants: readonly GpuGrant[], req: PlacementRequest): Resources {
  let gpuMilli = 0;
  for (const g of grants) gpuMilli += g.gpuMilli;
  return { gpuMilli, cpuMillis: req.cpuMillis, memoryMiB: req.memoryMiB };
}

/** Pods a group still needs before its gang is whole. */
export function gangNeed(group: GroupState): number {
  return Math.max(0, group.snap.minMember - group.pods.length);
}

/** Mutable accumulation map helper: queue -> pool -> resources. */
export function addTo(
  map: Map<string, Map<string, Resources>>,
  queue: string,
  pool: string,
  r: Resources,
): void {
  let byPool = map.get(queue);
  if (!byPool) {
    byPool = new Map();
    map.set(queue, byPool);
  }
  byPool.set(pool, addRes(byPool.get(pool) ?? zeroRes(), r));
}

/** Live resources of a queue in a pool. */
export function liveOf(map: Map<string, Map<string, Resources>>, queue: string, pool: string): Resources {
  return map.get(queue)?.get(pool) ?? zeroRes();
}

/** The largest GPU memory in a pool: sizes memory-based requests for fair-share demand. */
function poolGpuMemory(nodes: Iterable<NodeState>): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of nodes) for (const g of n.gpus) out.set(n.pool, Math.max(out.get(n.pool) ?? 0, g.memoryMiB));
  return out;
}

function toNodeState(snapshot: Snapshot): Map<string, NodeState> {
  const nodes = new Map<string, NodeState>();
  const sorted = [...snapshot.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const n of sorted) {
    nodes.set(n.name, {
      name: n.name,
      pool: n.pool,
      nodeType: n.nodeType,
      labels: n.labels,
      schedulable: n.schedulable,
      // By index, not report order: placement and its explanations walk this list, and the same
      // cluster reported in another order must give the same plan.
      gpus: [...n.gpus]
        .sort((a, b) => a.index - b.index || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0))
        .map((g) => ({ ...g, freeMilli: 1000, freeMemoryMiB: g.memoryMiB })),
      cpuMillis: n.cpuMillis,
      memoryMiB: n.memoryMiB,
      cpuFreeMillis: n.cpuMillis,
      memoryFreeMiB: n.memoryMiB,
      portCount: n.portCount ?? 0,
      portsFree: n.portCount ?? 0,
    });
  }
  return nodes;
}

/** Build the working state of a cycle from a snapshot and compute fair shares. */
export function openSession(snapshot: Snapshot): Session {
  const nodes = toNodeState(snapshot);
  const queues = new Map(snapshot.queues.map((q) => [q.name, q]));
  const pools = new Map(snapshot.pools.map((p) => [p.name, p]));
  const allocated = new Map<string, Map<string, Resources>>();
  const allocatedNonPreemptible = new Map<string, Map<string, Resources>>();
  const pending = new Map<string, Map<string, Resources>>();
  const gpuMemory = poolGpuMemory(nodes.values());

  const groups: GroupState[] = [];
  const podsByNode = new Map<string, Set<PodState>>();
  const sortedGroups = [...snapshot.groups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const snap of sortedGroups) {
    const req = toPlacementRequest(snap);
    const group: GroupState = { snap, pods: [], req, nextOrdinal: snap.nextPodOrdinal ?? 0 };
    // By name, not report order: victims and evictions list a group's pods in this order.
    const pods = [...snap.pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const p of pods) {
      const node = nodes.get(p.node);
      const pool = node?.pool ?? 'default';
      const resources = grantResources(p.grants, req);
      const pod: PodState = {
        name: p.name,
        group,
        node: p.node,
        pool,
        grants: [...p.grants],
        boundAtMs: p.boundAtMs,
        resources,
      };
      group.pods.push(pod);
      indexPod(podsByNode, pod, true);
      // Charged as it runs, even where its node came back smaller: the cluster holds it either way.
      if (node) chargeGrants(node, p.grants, req);
      chargeQueues(queues, allocated, snap.queue, pool, resources);
      if (!snap.preemptible) chargeQueues(queues, allocatedNonPreemptible, snap.queue, pool, resources);
      const ordinal = Number(p.name.slice(p.name.lastIndexOf('-') + 1));
      if (Number.isInteger(ordinal)) group.nextOrdinal = Math.max(group.nextOrdinal, ordinal + 1);
    }
    const wanted = Math.max(snap.maxMember, snap.minMember) - group.pods.length;
    if (wanted > 0) {
      for (const pool of snap.nodePools) {
        const one = requestResources(req, gpuMemory.get(pool) ?? 0);
        addTo(pending, snap.queue, pool, {
          ...one,
          gpuMilli: one.gpuMilli * wanted,
          cpuMillis: one.cpuMillis * wanted,
          memoryMiB: one.memoryMiB * wanted,
        });
      }
    }
    groups.push(group);
  }

  const capacity = new Map<string, Resources>();
  for (const n of nodes.values()) {
    if (!n.schedulable) continue;
    const healthyMilli = n.gpus.filter((g) => g.healthy).length * 1000;
    capacity.set(
      n.pool,
      addRes(capacity.get(n.pool) ?? zeroRes(), {
        gpuMilli: healthyMilli,
        cpuMillis: n.cpuMillis,
        memoryMiB: n.memoryMiB,
      }),
    );
  }
  const poolNames = [...new Set([...pools.keys(), ...capacity.keys()])].sort();
  const projectOnly = (m: Map<string, Map<string, Resources>>) =>
    new Map([...m].filter(([q]) => queues.get(q)?.parent !== null));
  const shares = computeFairShares({
    pools: poolNames,
    capacity,
    queues: snapshot.queues,
    allocated: projectOnly(allocated),
    pending,
    ...(snapshot.config.usage ? { usage: snapshot.config.usage } : {}),
    ...(snapshot.config.usageWeight !== undefined ? { usageWeight: snapshot.config.usageWeight } : {}),
  });

  const nodesByPool = new Map<string, NodeState[]>();
  for (const n of nodes.values()) {
    const list = nodesByPool.get(n.pool) ?? [];
    list.push(n);
    nodesByPool.set(n.pool, list);
  }

  return {
    nowMs: snapshot.nowMs,
    config: snapshot.config,
    nodes,
    pools,
    queues,
    groups,
    placer: createPlacer([...nodes.values()], mixOption(snapshot, sortedGroups, gpuMemory)),
    shares,
    allocated,
    allocatedNonPreemptible,
    nodesByPool,
    podsByNode,
  };
}

/**
 * The request mix fragmentation-aware pools measure fragmentation against: every pod the workloads
 * hold or want, as FGD's "typical pods" are the trace's own. Only built when a pool needs it.
 */
function mixOption(
  snapshot: Snapshot,
  groups: readonly GroupSnap[],
  gpuMemory: Map<string, number>,
): { mix?: TargetMix } {
  if (!snapshot.pools.some((p) => p.placement === 'fragmentation-aware')) return {};
  const pods: MixPod[] = [];
  for (const g of groups) {
    const one = mixPodOfRequest(toPlacementRequest(g), gpuMemory.get(g.nodePools[0] ?? 'default') ?? 0);
    for (let i = Math.max(g.pods.length, g.maxMember, g.minMember); i > 0; i--) pods.push(one);
  }
  return pods.length > 0 ? { mix: targetMixFromPods(pods) } : {};
}

/** Add (or remove) a pod in the per-node index. */
export function indexPod(index: Map<string, Set<PodState>>, pod: PodState, present: boolean): void {
  let set = index.get(pod.node);
  if (!set) {
    set = new Set();
    index.set(pod.node, set);
  }
  if (present) set.add(pod);
  else set.delete(pod);
}

/** Charge (or, with a negated vector, release) a project and its department. */
export function chargeQueues(
  queues: Map<string, QueueSnap>,
  map: Map<string, Map<string, Resources>>,
  project: string,
  pool: string,
  r: Resources,
): void {
  addTo(map, project, pool, r);
  const parent = queues.get(project)?.parent;
  if (parent) addTo(map, parent, pool, r);
}

/** Keep the fair-share view's `allocated` equal to the live accounting of a project and its department. */
export function syncShares(session: Session, project: string, pool: string): void {
  const parent = session.queues.get(project)?.parent;
  for (const queue of parent ? [project, parent] : [project]) {
    const share = session.shares.get(queue)?.get(pool);
    if (share) share.allocated = liveOf(session.allocated, queue, pool);
  }
}

/** Pending reasons for every group whose gang is still not whole. */
export function pendingReasons(session: Session): PendingReason[] {
  const out: PendingReason[] = [];
  for (const g of session.groups) {
    if (gangNeed(g) === 0) continue;
    out.push({ group: g.snap.id, reason: g.pendingReason ?? 'waiting for the next scheduling cycle' });
  }
  return out;
}
