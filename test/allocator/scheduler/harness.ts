/**
 * Scenario tables for the scheduler (docs/style.md, "Scenario tables"): a cluster, its queues and its
 * workloads written down compactly, run through `runCycle` for a few cycles with every plan applied
 * the way the store would apply it, then for more cycles that must change nothing (no ping-pong).
 *
 * The harness is also the "store" the property tests use: it builds snapshots, applies plans and
 * checks the physical invariants (nothing over-committed, grants on real healthy GPUs) after each.
 */
import { expect } from 'vitest';
import type { Action } from '../../../allocator/scheduler/actions/index.ts';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import {
  type ActionName,
  type Bind,
  type Eviction,
  isEmptyPlan,
  type Plan,
} from '../../../allocator/scheduler/plan.ts';
import {
  DEFAULT_SCHEDULER_CONFIG,
  type GpuGrant,
  type GpuSnap,
  type GroupSnap,
  type NodeSnap,
  type PlacementStrategy,
  type PodSnap,
  type PoolSnap,
  type QueueSnap,
  type QuotaSnap,
  type SchedulerConfig,
  type Snapshot,
  UNLIMITED,
} from '../../../allocator/scheduler/snapshot.ts';
import { fractionToMemoryMiB, memoryToGpuMilli } from '../../../common/resources.ts';
import type { GpuRequest, PodResources } from '../../../common/workload.ts';

// ---------------------------------------------------------------------------------------------
// Scenario format
// ---------------------------------------------------------------------------------------------

/** Clock of a scenario's first cycle unless it says otherwise. */
export const START_MS = 1_000_000_000;

/** GPU model and memory a node gets when its `gpus` is a bare count. */
export const DEFAULT_GPU_MODEL = 'A100';
export const DEFAULT_GPU_MEMORY_MIB = 40_960;

/** A node, compactly. */
export interface NodeDef {
  name: string;
  /** Default `default`. */
  pool?: string;
  /** A count of default GPUs, or `count x model [x memoryMiB]`: `'4xH100x81920'`. Default 8. */
  gpus?: number | string;
  /** Default 64 cores. */
  cpuMillis?: number;
  /** Default 512 GiB. */
  memoryMiB?: number;
  /** Value of `node.type`; default ''. */
  nodeType?: string;
  labels?: Record<string, string>;
  /** Default true; false = cordoned. */
  schedulable?: boolean;
  /** Indexes of GPUs that report unhealthy. */
  unhealthy?: number[];
}

/** A quota in one pool; GPU amounts in GPUs (fractions allowed), -1 = no limit. */
export interface QuotaDef {
  /** Default 0. */
  deserved?: number;
  /** Over-quota weight; default 1. */
  weight?: number;
  /** Hard cap in GPUs; default -1 (none). */
  limit?: number;
  deservedCpuMillis?: number;
  deservedMemoryMiB?: number;
  limitCpuMillis?: number;
  limitMemoryMiB?: number;
}

/** A department; without quotas it places no cap. */
export interface DepartmentDef {
  name: string;
  quotas?: Record<string, QuotaDef>;
}

/** A project; `deserved` is shorthand for `quotas.default.deserved`. */
export interface ProjectDef {
  name: string;
  /** Default `dept` (created without quotas if not listed). */
  department?: string;
  quotas?: Record<string, QuotaDef>;
  deserved?: number;
}

/** A pod already running when the scenario starts. A bare string is a node name; GPUs are chosen first-fit. */
export type RunningDef = string | { node: string; gpus?: number[]; boundAtMs?: number };

/** Workload types and their defaults (docs/architecture.md §2). */
export type WorkloadKind = 'workspace' | 'training' | 'build-preemptible' | 'distributed' | 'inference';

const KIND_PRIORITY: Readonly<Record<WorkloadKind, number>> = {
  workspace: 100,
  training: 50,
  'build-preemptible': 75,
  distributed: 50,
  inference: 125,
};

/** A workload. Without a GPU shape each pod asks for one whole GPU; `gpus: 0` asks for none. */
export interface WorkloadDef {
  name: string;
  project: string;
  /** Sets priority (and so preemptible) by the workload types of docs/architecture.md §2; default `training`. */
  type?: WorkloadKind;
  priority?: number;
  /** Default priority < 100. */
  preemptible?: boolean;
  /** Whole GPUs per pod. */
  gpus?: number;
  /** A share of one GPU, 0 < f < 1, and its dynamic limit (as a share, or in MiB). */
  fraction?: number;
  fractionLimit?: number;
  fractionLimitMiB?: number;
  /** A share of one GPU sized by memory, and its dynamic limit (in MiB, or as a share). */
  gpuMemoryMiB?: number;
  gpuMemoryLimitMiB?: number;
  gpuMemoryLimitFraction?: number;
  /** Default 1 core. */
  cpuMillis?: number;
  /** Default 4 GiB. */
  memoryMiB?: number;
  /** Gang size; default 1. */
  minMember?: number;
  /** Elastic ceiling; default minMember. */
  maxMember?: number;
  /** Pools in order of preference; default ['default']. */
  pools?: string[];
  nodeTypes?: string[];
  gpuModels?: string[];
  /** Default: declaration order, 1 s apart, long before the start (arrivals: the arrival time). */
  createdAtMs?: number;
  minRuntimeMs?: number;
  /** Pods running at the start. */
  running?: RunningDef[];
  belowMinSinceMs?: number;
}

/** Something that happens to the cluster before a cycle. */
export type ScenarioEvent =
  /** The workload finishes: its pods end and it leaves the cluster. */
  | { kind: 'complete'; workload: string }
  /** A new workload is submitted. */
  | { kind: 'arrive'; workload: WorkloadDef }
  /** `count` pods of the workload fail (the newest first); the gang may fall below minMember. */
  | { kind: 'pod-fails'; workload: string; count?: number }
  /** A node is lost: unschedulable, and every pod on it is gone. */
  | { kind: 'node-lost'; node: string }
  /** Anything else, done directly to the world. */
  | { kind: 'custom'; apply: (world: World) => void };

/** A workload's phase as the scenario sees it: it holds a whole gang, or it does not. */
export type ScenarioPhase = 'Running' | 'Pending';

/** What the run must end with. Counts are over the scheduled cycles (the settle cycles must be empty). */
export interface ScenarioExpect {
  phases?: Record<string, ScenarioPhase>;
  /** Pods each workload holds at the end. */
  pods?: Record<string, number>;
  binds?: number;
  evictions?: number;
  bindsByAction?: Partial<Record<ActionName, number>>;
  evictionsByAction?: Partial<Record<ActionName, number>>;
  /** A substring of each workload's pending reason in the last plan. */
  pending?: Record<string, string>;
}

/** One scenario table. */
export interface Scenario {
  name: string;
  nodes: NodeDef[];
  /** Placement of each pool; pools only nodes mention bin-pack. */
  pools?: Record<string, PlacementStrategy>;
  departments?: DepartmentDef[];
  projects: ProjectDef[];
  workloads: WorkloadDef[];
  config?: Partial<SchedulerConfig>;
  /** Scheduled cycles, default 3; then `settleCycles` (default 5) that must plan nothing. */
  cycles?: number;
  settleCycles?: number;
  /** Clock advance per cycle; default 10 s. */
  stepMs?: number;
  /** Clock of the first cycle; default 10^9 ms. */
  startMs?: number;
  /** Events applied before cycle `beforeCycle` (0-based). */
  events?: Array<{ beforeCycle: number; event: ScenarioEvent }>;
  /** Run a subset of the actions (default: all, in order). */
  actions?: readonly Action[];
  expect: ScenarioExpect;
  /** Extra assertions on the outcome. */
  check?: (result: ScenarioResult) => void;
}

// ---------------------------------------------------------------------------------------------
// The world: what the store would hold between cycles
// ---------------------------------------------------------------------------------------------

/** A workload as the store holds it: a group snapshot with mutable pods. */
export interface WorldGroup extends Omit<GroupSnap, 'pods' | 'belowMinSinceMs'> {
  pods: PodSnap[];
  belowMinSinceMs?: number;
}

/** A node as the store holds it. */
export interface WorldNode extends Omit<NodeSnap, 'gpus' | 'schedulable'> {
  gpus: GpuSnap[];
  schedulable: boolean;
}

/** The cluster between cycles. */
export interface World {
  nowMs: number;
  nodes: WorldNode[];
  pools: PoolSnap[];
  queues: QueueSnap[];
  groups: WorldGroup[];
  config: SchedulerConfig;
}

function parseGpus(spec: number | string | undefined): { count: number; model: string; memoryMiB: number } {
  if (spec === undefined) return { count: 8, model: DEFAULT_GPU_MODEL, memoryMiB: DEFAULT_GPU_MEMORY_MIB };
  if (typeof spec === 'number')
    return { count: spec, model: DEFAULT_GPU_MODEL, memoryMiB: DEFAULT_GPU_MEMORY_MIB };
  const [count, model, memory] = spec.split('x');
  const n = Number(count);
  if (!Number.isInteger(n) || n < 0) throw new Error(`bad gpus spec ${spec}`);
  return {
    count: n,
    model: model ?? DEFAULT_GPU_MODEL,
    memoryMiB: memory ? Number(memory) : DEFAULT_GPU_MEMORY_MIB,
  };
}

/** The uuid the harness gives a GPU (deliberately not the statement's fallback form). */
export function gpuUuid(node: string, index: number): string {
  return `GPU-${node}-${index}`;
}

/** Build a node from its compact definition. */
export function makeNode(def: NodeDef): WorldNode {
  const g = parseGpus(def.gpus);
  const gpus: GpuSnap[] = [];
  for (let i = 0; i < g.count; i++) {
    gpus.push({
      uuid: gpuUuid(def.name, i),
      index: i,
      model: g.model,
      memoryMiB: g.memoryMiB,
      healthy: !(def.unhealthy ?? []).includes(i),
    });
  }
  const nodeType = def.nodeType ?? '';
  return {
    name: def.name,
    pool: def.pool ?? 'default',
    nodeType,
    labels: { ...(def.labels ?? {}), ...(nodeType ? { 'node.type': nodeType } : {}), 'gpu.model': g.model },
    gpus,
    cpuMillis: def.cpuMillis ?? 64_000,
    memoryMiB: def.memoryMiB ?? 512 * 1024,
    schedulable: def.schedulable ?? true,
  };
}

const toMilli = (gpus: number): number => Math.round(gpus * 1000);

/** A quota snapshot from its compact definition. */
export function makeQuota(q: QuotaDef): QuotaSnap {
  return {
    deserved: {
      gpuMilli: toMilli(q.deserved ?? 0),
      cpuMillis: q.deservedCpuMillis ?? 0,
      memoryMiB: q.deservedMemoryMiB ?? 0,
    },
    overQuotaWeight: q.weight ?? 1,
    limit: {
      gpuMilli: q.limit === undefined || q.limit < 0 ? UNLIMITED : toMilli(q.limit),
      cpuMillis: q.limitCpuMillis ?? UNLIMITED,
      memoryMiB: q.limitMemoryMiB ?? UNLIMITED,
    },
  };
}

function quotasOf(defs: Record<string, QuotaDef> | undefined): Record<string, QuotaSnap> {
  const out: Record<string, QuotaSnap> = {};
  for (const [pool, q] of Object.entries(defs ?? {})) out[pool] = makeQuota(q);
  return out;
}

/** The GPU request of a workload definition. */
export function gpuRequestOf(w: WorkloadDef): GpuRequest {
  if (w.fraction !== undefined) {
    return {
      kind: 'fraction',
      milli: toMilli(w.fraction),
      ...(w.fractionLimit !== undefined ? { limitMilli: toMilli(w.fractionLimit) } : {}),
      ...(w.fractionLimitMiB !== undefined ? { limitMiB: w.fractionLimitMiB } : {}),
    };
  }
  if (w.gpuMemoryMiB !== undefined) {
    return {
      kind: 'memory',
      memoryMiB: w.gpuMemoryMiB,
      ...(w.gpuMemoryLimitMiB !== undefined ? { limitMiB: w.gpuMemoryLimitMiB } : {}),
      ...(w.gpuMemoryLimitFraction !== undefined ? { limitMilli: toMilli(w.gpuMemoryLimitFraction) } : {}),
    };
  }
  const count = w.gpus ?? 1;
  return count === 0 ? { kind: 'none' } : { kind: 'devices', count };
}

/** Group id of a workload: deliberately differs from its name so id / name mix-ups show. */
export function groupId(w: Pick<WorkloadDef, 'project' | 'name'>): string {
  return `${w.project}/${w.name}`;
}

/** Build a workload (without its running pods) from its definition. */
export function makeGroup(w: WorkloadDef, createdAtMs: number): WorldGroup {
  const kind = w.type ?? 'training';
  const priority = w.priority ?? KIND_PRIORITY[kind];
  const minMember = w.minMember ?? 1;
  const request: PodResources = {
    gpu: gpuRequestOf(w),
    cpuMillis: w.cpuMillis ?? 1000,
    memoryMiB: w.memoryMiB ?? 4096,
  };
  return {
    id: groupId(w),
    name: w.name,
    queue: w.project,
    priority,
    preemptible: w.preemptible ?? priority < 100,
    createdAtMs: w.createdAtMs ?? createdAtMs,
    nodePools: w.pools ?? ['default'],
    nodeTypes: w.nodeTypes ?? [],
    gpuModels: w.gpuModels ?? [],
    request,
    minMember,
    maxMember: Math.max(w.maxMember ?? minMember, minMember),
    pods: [],
    minRuntimeMs: w.minRuntimeMs ?? 0,
    ...(w.belowMinSinceMs !== undefined ? { belowMinSinceMs: w.belowMinSinceMs } : {}),
  };
}

/** Free milli and memory of every GPU, and free CPU / memory of every node, from the pods in the world. */
export function usage(world: World): {
  gpu: Map<string, { milli: number; memoryMiB: number; gpu: GpuSnap; node: WorldNode }>;
  node: Map<string, { cpuMillis: number; memoryMiB: number }>;
} {
  const gpu = new Map<string, { milli: number; memoryMiB: number; gpu: GpuSnap; node: WorldNode }>();
  const node = new Map<string, { cpuMillis: number; memoryMiB: number }>();
  for (const n of world.nodes) {
    node.set(n.name, { cpuMillis: 0, memoryMiB: 0 });
    for (const g of n.gpus) gpu.set(g.uuid, { milli: 0, memoryMiB: 0, gpu: g, node: n });
  }
  for (const g of world.groups) {
    for (const p of g.pods) {
      const nu = node.get(p.node);
      if (nu) {
        nu.cpuMillis += g.request.cpuMillis;
        nu.memoryMiB += g.request.memoryMiB;
      }
      for (const grant of p.grants) {
        const gu = gpu.get(grant.uuid);
        if (!gu) continue;
        gu.milli += grant.gpuMilli;
        gu.memoryMiB += grant.memoryMiB;
      }
    }
  }
  return { gpu, node };
}

/** What one GPU gives one pod of this (GPU-using) request, as placement would grant it. */
export function grantFor(req: Exclude<GpuRequest, { kind: 'none' }>, g: GpuSnap): GpuGrant {
  if (req.kind === 'devices')
    return { uuid: g.uuid, gpuMilli: 1000, memoryMiB: g.memoryMiB, memoryLimitMiB: g.memoryMiB };
  const gpuMilli = req.kind === 'fraction' ? req.milli : memoryToGpuMilli(req.memoryMiB, g.memoryMiB);
  const memoryMiB = req.kind === 'fraction' ? fractionToMemoryMiB(req.milli, g.memoryMiB) : req.memoryMiB;
  const limit =
    req.limitMiB !== undefined
      ? req.limitMiB
      : req.limitMilli !== undefined
        ? fractionToMemoryMiB(req.limitMilli, g.memoryMiB)
        : memoryMiB;
  return {
    uuid: g.uuid,
    gpuMilli,
    memoryMiB,
    memoryLimitMiB: Math.min(Math.max(limit, memoryMiB), g.memoryMiB),
  };
}

/** GPUs for a running pod at scenario start: the given indexes, or first fit by the harness's own books. */
function grantsForRunning(
  world: World,
  group: WorldGroup,
  node: WorldNode,
  indexes: number[] | undefined,
): GpuGrant[] {
  const req = group.request.gpu;
  if (req.kind === 'none') return [];
  const used = usage(world).gpu;
  const freeOf = (g: GpuSnap) => {
    const u = used.get(g.uuid);
    return { milli: 1000 - (u?.milli ?? 0), memoryMiB: g.memoryMiB - (u?.memoryMiB ?? 0) };
  };
  const grantOn = (g: GpuSnap): GpuGrant => grantFor(req, g);
  if (indexes) {
    return indexes.map((i) => {
      const g = node.gpus.find((x) => x.index === i);
      if (!g) throw new Error(`scenario: node ${node.name} has no GPU ${i}`);
      return grantOn(g);
    });
  }
  const want = req.kind === 'devices' ? req.count : 1;
  const out: GpuGrant[] = [];
  for (const g of node.gpus) {
    if (out.length === want) break;
    const free = freeOf(g);
    const grant = grantOn(g);
    if (
      free.milli >= grant.gpuMilli &&
      free.memoryMiB >= grant.memoryMiB &&
      (req.kind !== 'devices' || free.milli === 1000)
    ) {
      out.push(grant);
    }
  }
  if (out.length < want)
    throw new Error(`scenario: no room on ${node.name} for a running pod of ${group.name}`);
  return out;
}

/** Add a workload (and its running pods) to the world. */
export function addWorkload(world: World, w: WorkloadDef, createdAtMs: number): WorldGroup {
  if (world.groups.some((g) => g.id === groupId(w)))
    throw new Error(`scenario: duplicate workload ${w.name}`);
  const group = makeGroup(w, createdAtMs);
  world.groups.push(group);
  (w.running ?? []).forEach((r, i) => {
    const def = typeof r === 'string' ? { node: r } : r;
    const node = world.nodes.find((n) => n.name === def.node);
    if (!node) throw new Error(`scenario: running pod of ${w.name} on unknown node ${def.node}`);
    const grants = grantsForRunning(world, group, node, 'gpus' in def ? def.gpus : undefined);
    const boundAtMs = ('boundAtMs' in def ? def.boundAtMs : undefined) ?? group.createdAtMs;
    group.pods.push({ name: `${w.name}-${i}`, node: node.name, grants, boundAtMs });
  });
  return group;
}

/** The world at the start of a scenario. */
export function buildWorld(s: Omit<Scenario, 'name' | 'expect'>): World {
  const startMs = s.startMs ?? START_MS;
  const nodes = s.nodes.map(makeNode);
  const poolNames = new Set([...nodes.map((n) => n.pool), ...Object.keys(s.pools ?? {})]);
  const pools: PoolSnap[] = [...poolNames].map((name) => ({ name, placement: s.pools?.[name] ?? 'binpack' }));
  const queues: QueueSnap[] = [];
  let order = 0;
  for (const d of s.departments ?? [])
    queues.push({ name: d.name, parent: null, createdOrder: order++, quotas: quotasOf(d.quotas) });
  for (const p of s.projects) {
    const dept = p.department ?? 'dept';
    if (!queues.some((q) => q.name === dept))
      queues.push({ name: dept, parent: null, createdOrder: order++, quotas: {} });
  }
  for (const p of s.projects) {
    const quotas = quotasOf(p.quotas);
    if (p.deserved !== undefined)
      quotas.default = makeQuota({ ...(p.quotas?.default ?? {}), deserved: p.deserved });
    queues.push({ name: p.name, parent: p.department ?? 'dept', createdOrder: order++, quotas });
  }
  const world: World = {
    nowMs: startMs,
    nodes,
    pools,
    queues,
    groups: [],
    config: { ...DEFAULT_SCHEDULER_CONFIG, ...(s.config ?? {}) },
  };
  // Declared workloads were created long before the start, in declaration order.
  s.workloads.forEach((w, i) => {
    addWorkload(world, w, startMs - 3_600_000 + i * 1000);
  });
  trackBelowMin(world);
  return world;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The snapshot the store would hand the scheduler now: a deep, frozen copy (the core must not write it). */
export function snapshotOf(world: World): Snapshot {
  return deepFreeze(structuredClone(world) as Snapshot);
}

/** The store's bookkeeping of gangs that lost members: since when each is below minMember. */
export function trackBelowMin(world: World): void {
  for (const g of world.groups) {
    if (g.pods.length > 0 && g.pods.length < g.minMember) g.belowMinSinceMs ??= world.nowMs;
    else delete g.belowMinSinceMs;
  }
}

/** Apply a plan the way the store would: evictions free pods, binds start them now. Throws on a nonsensical plan. */
export function applyPlan(world: World, plan: Plan): void {
  const byId = new Map(world.groups.map((g) => [g.id, g]));
  for (const e of plan.evictions) {
    const g = byId.get(e.group);
    if (!g) throw new Error(`plan evicts a pod of unknown group ${e.group}`);
    const at = g.pods.findIndex((p) => p.name === e.pod);
    if (at < 0) throw new Error(`plan evicts ${e.pod} of ${e.group}, which holds no such pod`);
    if (g.pods[at]?.node !== e.node)
      throw new Error(`plan evicts ${e.pod} from ${e.node}, but it runs elsewhere`);
    g.pods.splice(at, 1);
  }
  for (const b of plan.binds) {
    const g = byId.get(b.group);
    if (!g) throw new Error(`plan binds a pod of unknown group ${b.group}`);
    if (g.pods.some((p) => p.name === b.pod)) throw new Error(`plan binds ${b.pod} of ${b.group} twice`);
    g.pods.push({
      name: b.pod,
      node: b.node,
      grants: b.grants.map((x) => ({ ...x })),
      boundAtMs: world.nowMs,
    });
  }
  checkBinds(world, plan.binds);
  checkCapacity(world);
  trackBelowMin(world);
}

/** Every bind lands in an allowed, schedulable place on healthy GPUs with the request's shape. */
export function checkBinds(world: World, binds: readonly Bind[]): void {
  const byId = new Map(world.groups.map((g) => [g.id, g]));
  for (const b of binds) {
    const g = byId.get(b.group);
    const node = world.nodes.find((n) => n.name === b.node);
    const where = `bind ${b.pod} of ${b.group} on ${b.node}`;
    if (!g || !node) throw new Error(`${where}: unknown group or node`);
    if (!node.schedulable) throw new Error(`${where}: node is not schedulable`);
    if (!g.nodePools.includes(node.pool))
      throw new Error(`${where}: pool ${node.pool} not among ${g.nodePools.join(',')}`);
    if (g.nodeTypes.length > 0 && !g.nodeTypes.includes(node.nodeType))
      throw new Error(`${where}: node type ${node.nodeType}`);
    const uuids = new Set<string>();
    for (const grant of b.grants) {
      const gpu = node.gpus.find((x) => x.uuid === grant.uuid);
      if (!gpu) throw new Error(`${where}: grant on unknown GPU ${grant.uuid}`);
      if (!gpu.healthy) throw new Error(`${where}: grant on unhealthy GPU ${grant.uuid}`);
      if (g.gpuModels.length > 0 && !g.gpuModels.includes(gpu.model))
        throw new Error(`${where}: GPU model ${gpu.model}`);
      if (uuids.has(grant.uuid)) throw new Error(`${where}: GPU ${grant.uuid} granted twice`);
      uuids.add(grant.uuid);
      if (grant.memoryLimitMiB < grant.memoryMiB) throw new Error(`${where}: memory limit below request`);
    }
    const req = g.request.gpu;
    const shapeOk =
      req.kind === 'none'
        ? b.grants.length === 0
        : req.kind === 'devices'
          ? b.grants.length === req.count && b.grants.every((x) => x.gpuMilli === 1000)
          : b.grants.length === 1 && (b.grants[0]?.gpuMilli ?? 0) < 1000 + 1;
    if (!shapeOk)
      throw new Error(
        `${where}: grants ${JSON.stringify(b.grants)} do not match request ${JSON.stringify(req)}`,
      );
  }
}

/** No GPU over 1000 milli or its memory, no node over its CPU or memory. */
export function checkCapacity(world: World): void {
  const u = usage(world);
  for (const [uuid, gu] of u.gpu) {
    if (gu.milli > 1000) throw new Error(`GPU ${uuid} over-committed: ${gu.milli} milli`);
    if (gu.memoryMiB > gu.gpu.memoryMiB)
      throw new Error(`GPU ${uuid} over its memory: ${gu.memoryMiB} > ${gu.gpu.memoryMiB} MiB`);
  }
  for (const n of world.nodes) {
    const nu = u.node.get(n.name);
    if (!nu) continue;
    if (nu.cpuMillis > n.cpuMillis)
      throw new Error(`node ${n.name} over CPU: ${nu.cpuMillis} > ${n.cpuMillis}`);
    if (nu.memoryMiB > n.memoryMiB)
      throw new Error(`node ${n.name} over memory: ${nu.memoryMiB} > ${n.memoryMiB}`);
  }
}

/** Apply an event to the world at its current time. */
export function applyEvent(world: World, event: ScenarioEvent): void {
  const find = (name: string): WorldGroup => {
    const g = world.groups.find((x) => x.name === name);
    if (!g) throw new Error(`event: unknown workload ${name}`);
    return g;
  };
  switch (event.kind) {
    case 'complete': {
      const g = find(event.workload);
      world.groups.splice(world.groups.indexOf(g), 1);
      break;
    }
    case 'arrive':
      addWorkload(world, event.workload, world.nowMs);
      break;
    case 'pod-fails': {
      const g = find(event.workload);
      const newestFirst = [...g.pods].sort((a, b) => b.boundAtMs - a.boundAtMs || (a.name < b.name ? 1 : -1));
      const gone = new Set(newestFirst.slice(0, event.count ?? 1));
      g.pods = g.pods.filter((p) => !gone.has(p));
      break;
    }
    case 'node-lost': {
      const node = world.nodes.find((n) => n.name === event.node);
      if (!node) throw new Error(`event: unknown node ${event.node}`);
      node.schedulable = false;
      for (const g of world.groups) g.pods = g.pods.filter((p) => p.node !== event.node);
      break;
    }
    case 'custom':
      event.apply(world);
      break;
  }
  trackBelowMin(world);
}

// ---------------------------------------------------------------------------------------------
// Running a scenario
// ---------------------------------------------------------------------------------------------

/** Everything a scenario run produced. */
export interface ScenarioResult {
  world: World;
  /** Plans of the scheduled cycles, in order. */
  plans: Plan[];
  /** Plans of the settle cycles (all empty, or the run throws). */
  settlePlans: Plan[];
  binds: Bind[];
  evictions: Eviction[];
  /** The workload's pods at the end. */
  pods(workload: string): PodSnap[];
  phase(workload: string): ScenarioPhase;
  /** Its pending reason in the last plan, if it has one. */
  pendingReason(workload: string): string | undefined;
}

/** One line per bind, eviction and pending reason: for failure messages. */
export function describePlan(plan: Plan): string {
  const lines = [
    ...plan.binds.map(
      (b) =>
        `  bind  ${b.pod} -> ${b.node} [${b.grants.map((g) => `${g.uuid}:${g.gpuMilli}`).join(' ')}] (${b.action})`,
    ),
    ...plan.evictions.map((e) => `  evict ${e.pod} on ${e.node} (${e.action}: ${e.reason})`),
    ...plan.pending.map((p) => `  pending ${p.group}: ${p.reason}`),
  ];
  return lines.join('\n');
}

/** Run a scenario: scheduled cycles with events, then settle cycles that must plan nothing. */
export function runScenario(s: Scenario): ScenarioResult {
  const world = buildWorld(s);
  const step = s.stepMs ?? 10_000;
  const plans: Plan[] = [];
  const settlePlans: Plan[] = [];
  const cycle = (): Plan => {
    const plan = runCycle(snapshotOf(world), s.actions);
    applyPlan(world, plan);
    return plan;
  };
  checkCapacity(world);
  for (let c = 0; c < (s.cycles ?? 3); c++) {
    for (const e of s.events ?? []) if (e.beforeCycle === c) applyEvent(world, e.event);
    plans.push(cycle());
    world.nowMs += step;
  }
  for (let c = 0; c < (s.settleCycles ?? 5); c++) {
    const plan = cycle();
    settlePlans.push(plan);
    if (!isEmptyPlan(plan)) {
      const history = plans.map((p, i) => `cycle ${i}:\n${describePlan(p)}`).join('\n');
      throw new Error(
        `${s.name}: settle cycle ${c} changed the cluster (ping-pong):\n${describePlan(plan)}\n--- history\n${history}`,
      );
    }
    world.nowMs += step;
  }
  const last = settlePlans.at(-1) ?? plans.at(-1);
  const group = (name: string): WorldGroup => {
    const g = world.groups.find((x) => x.name === name);
    if (!g)
      throw new Error(`${s.name}: no workload ${name} at the end (completed, or a typo in the scenario)`);
    return g;
  };
  return {
    world,
    plans,
    settlePlans,
    binds: plans.flatMap((p) => p.binds),
    evictions: plans.flatMap((p) => p.evictions),
    pods: (name) => group(name).pods,
    phase: (name) => {
      const g = group(name);
      return g.pods.length >= g.minMember && g.pods.length > 0 ? 'Running' : 'Pending';
    },
    pendingReason: (name) => last?.pending.find((p) => p.group === group(name).id)?.reason,
  };
}

function countBy<T extends { action: ActionName }>(items: readonly T[]): Partial<Record<ActionName, number>> {
  const out: Partial<Record<ActionName, number>> = {};
  for (const i of items) out[i.action] = (out[i.action] ?? 0) + 1;
  return out;
}

/** Run a scenario and assert everything it expects. */
export function checkScenario(s: Scenario): ScenarioResult {
  const r = runScenario(s);
  const e = s.expect;
  const trace = r.plans.map((p, i) => `cycle ${i}:\n${describePlan(p)}`).join('\n');
  const ctx = (what: string) => `${s.name}: ${what}\n${trace}`;
  for (const [name, phase] of Object.entries(e.phases ?? {})) {
    expect(r.phase(name), ctx(`phase of ${name}`)).toBe(phase);
  }
  for (const [name, n] of Object.entries(e.pods ?? {})) {
    expect(r.pods(name).length, ctx(`pods of ${name}`)).toBe(n);
  }
  if (e.binds !== undefined) expect(r.binds.length, ctx('binds')).toBe(e.binds);
  if (e.evictions !== undefined) expect(r.evictions.length, ctx('evictions')).toBe(e.evictions);
  if (e.bindsByAction) {
    const got = countBy(r.binds);
    for (const [action, n] of Object.entries(e.bindsByAction))
      expect(got[action as ActionName] ?? 0, ctx(`${action} binds`)).toBe(n);
  }
  if (e.evictionsByAction) {
    const got = countBy(r.evictions);
    for (const [action, n] of Object.entries(e.evictionsByAction)) {
      expect(got[action as ActionName] ?? 0, ctx(`${action} evictions`)).toBe(n);
    }
  }
  for (const [name, substring] of Object.entries(e.pending ?? {})) {
    expect(r.pendingReason(name), ctx(`pending reason of ${name}`)).toContain(substring);
  }
  s.check?.(r);
  return r;
}
