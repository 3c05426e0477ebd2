/**
 * Turns the stored state into the scheduler's pure input (docs/architecture.md §3): nodes resolved to
 * pools, queues with their quotas, and the pod groups of workloads that hold or want pods.
 */
import type { WorkloadPhase } from '../../common/phases.ts';
import type { WorkloadSpec } from '../../common/workload.ts';
import type {
  GpuGrant,
  GpuSnap,
  GroupSnap,
  NodeSnap,
  PodSnap,
  PoolSnap,
  QueueSnap,
  QuotaSnap,
  SchedulerConfig,
  Snapshot,
} from '../scheduler/snapshot.ts';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/snapshot.ts';
import { type Db, inTransaction } from './db.ts';
import { jsonField } from './dialect.ts';
import type { NodeRow } from './nodes.ts';
import { DEFAULT_POOL, listPools, listQueues, listQuotas, type PoolRecord } from './org.ts';
import { SCHEDULED_POD_PHASES, succeededBindTimes } from './pods.ts';
import { parseStoredSpec } from './workloads.ts';

/** Workload phases whose pods the scheduler places, keeps or evicts. */
export const SCHEDULED_PHASES: readonly WorkloadPhase[] = ['Pending', 'Initializing', 'Running', 'Degraded'];

/** True when every label of the selector is on the node with the same value; `{}` matches all. */
export function matchesSelector(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
) {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The pool a node falls in: the oldest pool whose selector matches, else `default`. */
export function poolOf(pools: readonly PoolRecord[], labels: Readonly<Record<string, string>>): string {
  // The default pool is where unmatched nodes go, so its own selector never claims a node.
  return (
    pools.find((p) => p.name !== DEFAULT_POOL && matchesSelector(p.selector, labels))?.name ?? DEFAULT_POOL
  );
}

/**
 * The replicas an autoscaled workload wants now (allocator/serve/scaler.ts); undefined: its spec's
 * range stands. Default: none is autoscaled.
 */
export type WantedReplicas = (workload: string) => number | undefined;

/**
 * The elastic range the scheduler sees: the spec's, capped at the autoscaler's wanted count, which
 * may be 0 (scaled to zero: no pod is required, none is grown).
 */
export function memberRange(
  spec: { minReplicas: number; maxReplicas: number },
  wanted: number | undefined,
): { minMember: number; maxMember: number } {
  if (wanted === undefined) return { minMember: spec.minReplicas, maxMember: spec.maxReplicas };
  const maxMember = Math.max(0, Math.min(spec.maxReplicas, wanted));
  return { minMember: Math.min(spec.minReplicas, maxMember), maxMember };
}

/**
 * The member range of a workload some of whose pods already finished their part (exited 0, as the
 * workers of a distributed job do one after another): it neither grows nor replaces them, and the
 * pods still running are a whole gang, so stale-gang does not evict them. Only pods bound with or
 * after the running ones count: those of an earlier attempt (before a gang restart) are history.
 */
export function finishingRange(
  range: { minMember: number; maxMember: number },
  live: readonly { boundAtMs: number }[],
  succeededBoundMs: readonly number[],
): { minMember: number; maxMember: number } {
  if (live.length === 0 || succeededBoundMs.length === 0) return range;
  const since = Math.min(...live.map((p) => p.boundAtMs));
  if (!succeededBoundMs.some((ms) => ms >= since)) return range;
  return { minMember: Math.min(range.minMember, live.length), maxMember: live.length };
}

/** The node columns a snapshot reads. */
type NodeSnapRow = Omit<NodeRow, 'last_seen_ms'>;

/** The workload columns a snapshot reads; the spec is read only for workloads it has not seen. */
interface WorkloadSnapRow {
  id: string;
  name: string;
  project: string;
  created_ms: number;
  next_pod_ordinal: number;
  below_min_since_ms: number | null;
}

/** The pod columns a snapshot reads. */
interface PodSnapRow {
  workload: string;
  name: string;
  node: string | null;
  grants: string;
  phase: string;
  bound_ms: number | null;
}

/** What one `read` reused from earlier reads and what it had to parse, for tests and benchmarks. */
export interface SnapshotReadStats {
  nodesParsed: number;
  specsParsed: number;
  grantsParsed: number;
}

/**
 * Reads snapshots one after another, keeping what it parsed: a node whose row is unchanged keeps
 * its NodeSnap, a workload keeps its parsed spec (a spec is never rewritten after submit), a pod
 * keeps its parsed grants while their JSON is the same. Each read is still one consistent read of
 * the rows (plain SELECTs, no change log), so it equals a fresh build whatever wrote in between
 * (test/allocator/store/snapshot-reader.test.ts); what it saves is the parsing and object building,
 * which was most of a cycle's snapshot. The snapshot's objects are shared between reads: the
 * scheduler never writes its input (test/allocator/scheduler/frozen-input.test.ts).
 */
export interface SnapshotReader {
  /** The whole scheduler input at `nowMs`, as `buildSnapshot` gives it. */
  read(db: Db, nowMs: number, config?: SchedulerConfig, wanted?: WantedReplicas): Snapshot;
  /** What the newest read parsed (the rest it reused). */
  lastStats(): SnapshotReadStats;
}

/** Above this many specs not yet parsed, one query reads them all instead of one query each. */
const SPEC_BATCH = 64;

const inList = (values: readonly string[]): string => values.map(() => '?').join(', ');

/** A snapshot reader with empty caches: its first read is a full build. */
export function createSnapshotReader(): SnapshotReader {
  let nodeCache = new Map<string, { key: string; snap: NodeSnap }>();
  let specCache = new Map<string, WorkloadSpec>();
  let grantCache = new Map<string, { raw: string; grants: GpuGrant[] }>();
  let stats: SnapshotReadStats = { nodesParsed: 0, specsParsed: 0, grantsParsed: 0 };

  const readNodes = (db: Db, poolRecs: readonly PoolRecord[]): { nodes: NodeSnap[]; lost: Set<string> } => {
    // A pool's selector decides which nodes are in it: a changed pool list re-resolves every node.
    const poolsKey = JSON.stringify(poolRecs.map((p) => [p.name, p.selector]));
    const rows = db
      .prepare(
        `SELECT name, labels, admin_labels, gpus, cpu_millis, memory_mib, schedulable, cordoned, lost,
           address, port_first, port_last FROM nodes ORDER BY name`,
      )
      .all() as NodeSnapRow[];
    const next = new Map<string, { key: string; snap: NodeSnap }>();
    const lost = new Set<string>();
    const nodes = rows.map((r) => {
      if (r.lost === 1) lost.add(r.name);
      const key = [
        poolsKey,
        r.labels,
        r.admin_labels,
        r.gpus,
        r.cpu_millis,
        r.memory_mib,
        r.schedulable,
        r.cordoned,
        r.lost,
        r.address === null,
        r.port_first,
        r.port_last,
      ].join('\u0000');
      const cached = nodeCache.get(r.name);
      if (cached !== undefined && cached.key === key) {
        next.set(r.name, cached);
        return cached.snap;
      }
      stats.nodesParsed += 1;
      const labels: Record<string, string> = {
        ...(JSON.parse(r.labels) as Record<string, string>),
        ...(JSON.parse(r.admin_labels) as Record<string, string>),
      };
      const snap: NodeSnap = {
        name: r.name,
        pool: poolOf(poolRecs, labels),
        nodeType: labels['node.type'] ?? '',
        labels,
        gpus: JSON.parse(r.gpus) as GpuSnap[],
        cpuMillis: r.cpu_millis,
        memoryMiB: r.memory_mib,
        schedulable: r.schedulable === 1 && r.cordoned !== 1 && r.lost !== 1,
        // Ports held by pods being stopped count as free, as their GPUs do: store/ports.ts gives them
        // out last and the dispatcher holds the new pod until the stop is confirmed.
        portCount:
          r.address === null || r.port_first === null || r.port_last === null
            ? 0
            : r.port_last - r.port_first + 1,
      };
      next.set(r.name, { key, snap });
      return snap;
    });
    nodeCache = next;
    return { nodes, lost };
  };

  const readSpecs = (db: Db, rows: readonly WorkloadSnapRow[]): Map<string, WorkloadSpec> => {
    const next = new Map<string, WorkloadSpec>();
    const missing: string[] = [];
    for (const r of rows) {
      const spec = specCache.get(r.id);
      if (spec === undefined) missing.push(r.id);
      else next.set(r.id, spec);
    }
    if (missing.length > SPEC_BATCH) {
      const wanted = new Set(missing);
      const all = db
        .prepare(`SELECT id, spec FROM workloads WHERE phase IN (${inList(SCHEDULED_PHASES)})`)
        .all(...SCHEDULED_PHASES) as { id: string; spec: string }[];
      for (const r of all) if (wanted.has(r.id)) next.set(r.id, parseStoredSpec(r.spec));
    } else if (missing.length > 0) {
      const one = db.prepare('SELECT spec FROM workloads WHERE id = ?');
      for (const id of missing) {
        const r = one.get(id) as { spec: string } | undefined;
        if (r !== undefined) next.set(id, parseStoredSpec(r.spec));
      }
    }
    stats.specsParsed += missing.length;
    specCache = next;
    return next;
  };

  const readPods = (db: Db, lost: ReadonlySet<string>) => {
    // Stopping pods are left out: the scheduler counts an eviction as freeing its resources at once
    // (as the plan that evicted them assumed), so showing them again would make it evict twice. Until
    // the agent confirms the stop, the link must hold a StartPod for the same GPU behind its StopPod.
    const rows = db
      .prepare(
        `SELECT workload, name, node, grants, phase, bound_ms FROM pods
         WHERE phase IN (${inList(SCHEDULED_POD_PHASES)}) ORDER BY workload, name`,
      )
      .all(...SCHEDULED_POD_PHASES) as PodSnapRow[];
    const next = new Map<string, { raw: string; grants: GpuGrant[] }>();
    const byWorkload = new Map<string, PodSnap[]>();
    const unreachable = new Set<string>();
    for (const p of rows) {
      if (p.node === null) continue;
      // Unknown, or Bound on a node past its lease: it may run there, so nothing of it moves.
      if (p.phase === 'Unknown' || lost.has(p.node)) unreachable.add(p.workload);
      const id = `${p.workload}\n${p.name}`;
      let cached = grantCache.get(id);
      if (cached === undefined || cached.raw !== p.grants) {
        stats.grantsParsed += 1;
        cached = { raw: p.grants, grants: JSON.parse(p.grants) as GpuGrant[] };
      }
      next.set(id, cached);
      const list = byWorkload.get(p.workload) ?? [];
      list.push({ name: p.name, node: p.node, grants: cached.grants, boundAtMs: p.bound_ms ?? 0 });
      byWorkload.set(p.workload, list);
    }
    grantCache = next;
    return { byWorkload, unreachable };
  };

  return {
    read(db, nowMs, config = DEFAULT_SCHEDULER_CONFIG, wanted = () => undefined) {
      stats = { nodesParsed: 0, specsParsed: 0, grantsParsed: 0 };
      // One read transaction: a snapshot is one instant even if a writer commits meanwhile.
      return inTransaction(db, (): Snapshot => {
        const poolRecs = listPools(db);
        const pools: PoolSnap[] = poolRecs.map((p) => ({ name: p.name, placement: p.placementGpu }));
        if (!pools.some((p) => p.name === DEFAULT_POOL))
          pools.push({ name: DEFAULT_POOL, placement: 'binpack' });
        const { nodes, lost } = readNodes(db, poolRecs);

        const quotas = new Map<string, Record<string, QuotaSnap>>();
        for (const q of listQuotas(db)) {
          const byPool = quotas.get(q.queue) ?? {};
          byPool[q.nodePool] = { deserved: q.deserved, overQuotaWeight: q.overQuotaWeight, limit: q.limit };
          quotas.set(q.queue, byPool);
        }
        const queues: QueueSnap[] = listQueues(db).map((q, i) => ({
          name: q.name,
          parent: q.parent,
          createdOrder: i,
          quotas: quotas.get(q.name) ?? {},
        }));

        const pods = readPods(db, lost);
        const succeeded = succeededBindTimes(db, SCHEDULED_PHASES);
        const rows = db
          .prepare(
            `SELECT id, name, project, created_ms, next_pod_ordinal, below_min_since_ms FROM workloads
             WHERE phase IN (${inList(SCHEDULED_PHASES)}) ORDER BY created_ms, rowid`,
          )
          .all(...SCHEDULED_PHASES) as WorkloadSnapRow[];
        const specs = readSpecs(db, rows);
        const groups: GroupSnap[] = [];
        for (const w of rows) {
          const spec = specs.get(w.id);
          if (spec === undefined) continue; // deleted between the two reads of this transaction: cannot happen
          groups.push(groupOf(w, spec, pods.byWorkload.get(w.id) ?? [], succeeded.get(w.id) ?? [], wanted));
          if (pods.unreachable.has(w.id)) (groups[groups.length - 1] as GroupSnap).unreachable = true;
        }
        return { nowMs, nodes, pools, queues, groups, config };
      });
    },
    lastStats: () => stats,
  };
}

/** One workload as the scheduler's pod group. */
function groupOf(
  w: WorkloadSnapRow,
  spec: WorkloadSpec,
  pods: PodSnap[],
  succeeded: readonly number[],
  wanted: WantedReplicas,
): GroupSnap {
  const g: GroupSnap = {
    id: w.id,
    name: w.name,
    queue: w.project,
    priority: spec.priority,
    preemptible: spec.preemptible,
    createdAtMs: w.created_ms,
    nodePools: spec.nodePools,
    nodeTypes: spec.nodeTypes,
    needsContainer: spec.image !== undefined,
    gpuModels: spec.gpuModels,
    request: spec.resources,
    portsPerPod: spec.ports.length,
    ...finishingRange(memberRange(spec, wanted(w.id)), pods, succeeded),
    pods,
    minRuntimeMs: spec.minRuntimeMs,
    nextPodOrdinal: w.next_pod_ordinal,
  };
  if (w.below_min_since_ms !== null) g.belowMinSinceMs = w.below_min_since_ms;
  return g;
}

/** Reads the whole scheduler input from the store at `nowMs`: a full build, nothing reused. */
export function buildSnapshot(
  db: Db,
  nowMs: number,
  config: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG,
  wanted: WantedReplicas = () => undefined,
): Snapshot {
  return createSnapshotReader().read(db, nowMs, config, wanted);
}

/**
 * True when a scheduling cycle might do something even though nothing changed: work waiting to be
 * placed or grown, gangs below their minimum, user stops and deletes to carry out, or frames owed
 * to agents. False lets a periodic tick skip a cycle that would rebuild a snapshot of every node for
 * nothing (cycles are also run on every change, so no work is missed).
 */
export function hasTimedWork(db: Db): boolean {
  // Each EXISTS on its own so each is answered from an index (migration 6), never a table scan.
  const row = db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM workloads WHERE phase IN ('Pending', 'Deleting'))
       OR EXISTS (SELECT 1 FROM workloads WHERE below_min_since_ms IS NOT NULL)
       OR EXISTS (SELECT 1 FROM pods WHERE phase IN ('Bound', 'Stopping'))
       OR EXISTS (SELECT 1 FROM workloads w WHERE w.phase = 'Stopped' AND EXISTS
         (SELECT 1 FROM pods p WHERE p.workload = w.id AND p.phase IN ('Bound', 'Starting', 'Running', 'Unknown')))
       OR EXISTS (SELECT 1 FROM workloads w WHERE w.phase IN ('Running', 'Degraded', 'Initializing')
         AND ${jsonField(db.dialect, 'w.spec', 'maxReplicas', 'number')} > (SELECT COUNT(*) FROM pods p WHERE p.workload = w.id
           AND p.phase IN ('Bound', 'Starting', 'Running', 'Unknown'))) AS busy`,
    )
    .get() as { busy: number };
  return row.busy === 1;
}
