/**
 * Properties (docs/style.md, "Properties"): invariants that must hold on any cluster, checked on random ones.
 * Each cluster has 1-12 nodes of 1-8 GPUs in 1-3 pools, 1-3 departments of 1-3 projects with random
 * quotas, and 1-30 workloads of mixed shapes, priorities and gang sizes, some already running.
 * The eviction properties add contested clusters, and count the runs in which reclaim and preempt
 * evicted, so that they cannot pass by never evicting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { computeFairShares } from '../../../allocator/scheduler/fairshare.ts';
import { isEmptyPlan, type Plan } from '../../../allocator/scheduler/plan.ts';
import { openSession } from '../../../allocator/scheduler/session.ts';
import type { GpuGrant, PlacementStrategy, Snapshot } from '../../../allocator/scheduler/snapshot.ts';
import { UNLIMITED } from '../../../allocator/scheduler/snapshot.ts';
import { addRes, memoryToGpuMilli, type Resources, zeroRes } from '../../../common/resources.ts';
import {
  applyPlan,
  buildWorld,
  type DepartmentDef,
  grantFor,
  type NodeDef,
  type ProjectDef,
  type QuotaDef,
  snapshotOf,
  usage,
  type WorkloadDef,
  type WorkloadKind,
  type World,
  type WorldGroup,
} from './harness.ts';

/** Runs per property; raise TESSERA_PROPERTY_RUNS for a deeper local search. */
const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
/**
 * The seed of the eviction property, fixed so that its count of evicting runs is the same every
 * time; set TESSERA_PROPERTY_SEED to search other clusters.
 */
const PROPERTY_SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 1);
const STEP_MS = 10_000;
const GRACE_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Random clusters
// ---------------------------------------------------------------------------------------------

type Seed = 'none' | 'full' | 'partial';

interface GenWorkload {
  def: WorkloadDef;
  seed: Seed;
  /** Extra pods above minMember to seed (elastic), or the pods below it ('partial'). */
  seedPick: number;
  belowMinAgoMs: number;
}

interface GenCluster {
  pools: PlacementStrategy[];
  nodes: NodeDef[];
  departments: DepartmentDef[];
  projects: ProjectDef[];
  workloads: GenWorkload[];
  /** Decayed past GPU usage per project (time-based fairness), and its strength; 0 = off. */
  usage: number[];
  usageWeight: number;
}

const MODELS = { A100: 40_960, H100: 81_920 } as const;

const quotaArb: fc.Arbitrary<QuotaDef> = fc
  .record({
    deserved: fc.integer({ min: 0, max: 12 }).map((x) => x / 2),
    weight: fc.constantFrom(0, 1, 1, 2, 3),
    limitExtra: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
  })
  .map((q) => ({
    deserved: q.deserved,
    weight: q.weight,
    limit: q.limitExtra === undefined ? -1 : q.deserved + q.limitExtra,
  }));

function quotasArb(pools: number, presence: number): fc.Arbitrary<Record<string, QuotaDef>> {
  return fc
    .array(fc.tuple(fc.integer({ min: 0, max: 99 }), quotaArb), { minLength: pools, maxLength: pools })
    .map((qs) => {
      const out: Record<string, QuotaDef> = {};
      qs.forEach(([roll, q], i) => {
        if (roll < presence) out[`p${i}`] = q;
      });
      return out;
    });
}

const shapeArb: fc.Arbitrary<Partial<WorkloadDef>> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }).map((gpus) => ({ gpus })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }))
      .map(([tenths, extra]) => ({
        fraction: tenths / 10,
        ...(extra !== undefined ? { fractionLimit: Math.min(10, tenths + extra) / 10 } : {}),
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 2, max: 48 }), fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }))
      .map(([gib, extra]) => ({
        gpuMemoryMiB: gib * 1024,
        ...(extra !== undefined ? { gpuMemoryLimitMiB: (gib + extra) * 1024 } : {}),
      })),
  },
  { weight: 1, arbitrary: fc.constant({ gpus: 0 }) },
);

function workloadArb(projects: number, pools: number, crowded: boolean): fc.Arbitrary<GenWorkload> {
  return fc
    .record({
      project: fc.nat(projects - 1),
      kind: fc.constantFrom<WorkloadKind>(
        'training',
        'training',
        'build-preemptible',
        'workspace',
        'distributed',
        'inference',
      ),
      shape: shapeArb,
      cpuMillis: fc.integer({ min: 0, max: 16 }).map((x) => x * 500),
      memoryMiB: fc.integer({ min: 0, max: 32 }).map((x) => x * 1024),
      minMember: fc.integer({ min: 1, max: 4 }),
      extraMax: fc.integer({ min: 0, max: 3 }),
      pools: fc.shuffledSubarray(
        Array.from({ length: pools }, (_, i) => `p${i}`),
        { minLength: 1 },
      ),
      nodeTypes: fc.constantFrom<string[]>([], [], [], [], ['dgx']),
      gpuModels: fc.constantFrom<string[]>([], [], [], [], ['H100'], ['A100']),
      createdAtMs: fc.integer({ min: 0, max: 1_000_000 }),
      minRuntimeMs: fc.constantFrom(0, 0, 30_000),
      seed: crowded
        ? fc.constantFrom<Seed>('none', 'full', 'full', 'full', 'partial')
        : fc.constantFrom<Seed>('none', 'none', 'full', 'full', 'partial'),
      seedPick: fc.nat(3),
      belowMinAgoMs: fc.integer({ min: 0, max: 2 * GRACE_MS }),
    })
    .map((w) => {
      const gang = w.kind === 'distributed' || w.kind === 'inference';
      const minMember = gang ? w.minMember : 1;
      return {
        def: {
          name: '',
          project: `q${w.project}`,
          type: w.kind,
          ...w.shape,
          cpuMillis: w.cpuMillis,
          memoryMiB: w.memoryMiB,
          minMember,
          maxMember: gang ? minMember + w.extraMax : minMember,
          pools: w.pools,
          nodeTypes: w.nodeTypes,
          gpuModels: w.gpuModels,
          createdAtMs: w.createdAtMs,
          minRuntimeMs: w.minRuntimeMs,
        },
        seed: w.seed,
        seedPick: w.seedPick,
        belowMinAgoMs: w.belowMinAgoMs,
      };
    });
}

/**
 * A random cluster. `crowded` ones (1-3 nodes, 8-30 workloads, most already running) are full, so
 * reclaim, preempt and consolidate get real work; roomy ones mostly exercise allocate and elastic.
 */
function clusterArbOf(crowded: boolean): fc.Arbitrary<GenCluster> {
  return fc
    .record({
      pools: fc.array(fc.constantFrom<PlacementStrategy>('binpack', 'spread', 'fragmentation-aware'), {
        minLength: 1,
        maxLength: 3,
      }),
      deptSizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    })
    .chain(({ pools, deptSizes }) => {
      const projectCount = deptSizes.reduce((a, b) => a + b, 0);
      const node = fc.record({
        pool: fc.nat(pools.length - 1),
        gpus: fc.integer({ min: 1, max: 8 }),
        model: fc.constantFrom<keyof typeof MODELS>('A100', 'H100'),
        cpuCores: fc.integer({ min: 4, max: 64 }),
        memoryGiB: fc.integer({ min: 16, max: 512 }),
        nodeType: fc.constantFrom('', '', 'dgx'),
        schedulable: fc.integer({ min: 0, max: 9 }).map((x) => x > 0),
        unhealthy: fc.array(fc.nat(7), { maxLength: 2 }),
      });
      return fc.record({
        pools: fc.constant(pools),
        nodes: fc.array(node, { minLength: 1, maxLength: crowded ? 3 : 12 }).map((ns) =>
          ns.map(
            (n, i): NodeDef => ({
              name: `n${String(i).padStart(2, '0')}`,
              pool: `p${n.pool}`,
              gpus: `${n.gpus}x${n.model}x${MODELS[n.model]}`,
              cpuMillis: n.cpuCores * 1000,
              memoryMiB: n.memoryGiB * 1024,
              nodeType: n.nodeType,
              schedulable: n.schedulable,
              unhealthy: n.unhealthy,
            }),
          ),
        ),
        departments: fc
          .array(quotasArb(pools.length, 40), { minLength: deptSizes.length, maxLength: deptSizes.length })
          .map((qs) => qs.map((quotas, i): DepartmentDef => ({ name: `d${i}`, quotas }))),
        projects: fc
          .array(quotasArb(pools.length, 80), { minLength: projectCount, maxLength: projectCount })
          .map((qs) => {
            const out: ProjectDef[] = [];
            let i = 0;
            deptSizes.forEach((size, d) => {
              for (let k = 0; k < size; k++, i++)
                out.push({ name: `q${i}`, department: `d${d}`, quotas: qs[i] ?? {} });
            });
            return out;
          }),
        usage: fc.array(fc.integer({ min: 0, max: 1000 }), {
          minLength: projectCount,
          maxLength: projectCount,
        }),
        usageWeight: fc.constantFrom(0, 0, 0.5, 1, 2),
        workloads: fc
          .array(workloadArb(projectCount, pools.length, crowded), {
            minLength: crowded ? 8 : 1,
            maxLength: 30,
          })
          .map((ws) =>
            ws.map((w, i) => ({ ...w, def: { ...w.def, name: `w${String(i).padStart(2, '0')}` } })),
          ),
      });
    });
}

const clusterArb: fc.Arbitrary<GenCluster> = fc.oneof(clusterArbOf(false), clusterArbOf(true));

/**
 * A full cluster that one project (q0, deserving nothing) took while the others were idle, now that
 * they want their share back: one pool, 1-3 healthy schedulable nodes, 1-3 other projects that each
 * deserve some GPUs, q0's preemptible work running and everyone's other work waiting. Reclaim and preempt then have
 * both victims and claimants; on clusterArb alone each evicts in only a few runs in a hundred.
 */
const contestedArb: fc.Arbitrary<GenCluster> = fc
  .record({
    pool: fc.constantFrom<PlacementStrategy>('binpack', 'spread', 'fragmentation-aware'),
    nodes: fc.array(
      fc.record({
        gpus: fc.integer({ min: 2, max: 8 }),
        model: fc.constantFrom<keyof typeof MODELS>('A100', 'H100'),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    deptSizes: fc.constantFrom([2], [3], [4], [1, 1], [2, 1], [2, 2]),
  })
  .chain(({ pool, nodes, deptSizes }) => {
    const projectCount = deptSizes.reduce((a, b) => a + b, 0);
    const gpus = nodes.reduce((sum, n) => sum + n.gpus, 0);
    const greedy = fc.record({
      shape: fc.oneof({ weight: 3, arbitrary: fc.constant({ gpus: 1 }) }, { weight: 1, arbitrary: shapeArb }),
      type: fc.constantFrom<WorkloadKind>('training', 'training', 'build-preemptible', 'distributed'),
      minMember: fc.integer({ min: 1, max: 2 }),
      createdAtMs: fc.integer({ min: 0, max: 1_000_000 }),
    });
    return fc.record({
      pools: fc.constant([pool]),
      nodes: fc.constant(
        nodes.map(
          (n, i): NodeDef => ({
            name: `n${String(i).padStart(2, '0')}`,
            pool: 'p0',
            gpus: `${n.gpus}x${n.model}x${MODELS[n.model]}`,
            cpuMillis: 128_000,
            memoryMiB: 1024 * 1024,
            nodeType: '',
            schedulable: true,
            unhealthy: [],
          }),
        ),
      ),
      departments: fc.constant(deptSizes.map((_, i): DepartmentDef => ({ name: `d${i}`, quotas: {} }))),
      projects: fc
        .array(
          fc.record({
            deserved: fc.integer({ min: 1, max: Math.max(1, gpus) }),
            weight: fc.constantFrom(1, 1, 2),
          }),
          { minLength: projectCount, maxLength: projectCount },
        )
        .map((qs) => {
          const out: ProjectDef[] = [];
          let i = 0;
          deptSizes.forEach((size, d) => {
            for (let k = 0; k < size; k++, i++) {
              const q = qs[i] ?? { deserved: 1, weight: 1 };
              out.push({
                name: `q${i}`,
                department: `d${d}`,
                quotas: { p0: { deserved: i === 0 ? 0 : q.deserved, weight: q.weight, limit: -1 } },
              });
            }
          });
          return out;
        }),
      usage: fc.constant(Array.from({ length: projectCount }, () => 0)),
      usageWeight: fc.constant(0),
      workloads: fc
        .tuple(
          fc.array(greedy, { minLength: gpus, maxLength: gpus + 4 }),
          fc.array(workloadArb(projectCount, 1, false), { minLength: 1, maxLength: 12 }),
        )
        .map(([mine, theirs]) =>
          [
            ...mine.map(
              (g, i): GenWorkload => ({
                def: {
                  name: '',
                  project: 'q0',
                  type: g.type,
                  ...g.shape,
                  minMember: g.type === 'distributed' ? g.minMember : 1,
                  maxMember: g.type === 'distributed' ? g.minMember : 1,
                  pools: ['p0'],
                  createdAtMs: g.createdAtMs + i,
                },
                seed: 'full',
                seedPick: 0,
                belowMinAgoMs: 0,
              }),
            ),
            ...theirs.map((w) => ({
              ...w,
              seed: 'none' as const,
              def: { ...w.def, nodeTypes: [], gpuModels: [] },
            })),
          ].map((w, i) => ({ ...w, def: { ...w.def, name: `w${String(i).padStart(2, '0')}` } })),
        ),
    });
  });

/** Half random clusters, half contested ones: for the properties about eviction. */
const evictionArb: fc.Arbitrary<GenCluster> = fc.oneof(clusterArb, contestedArb);

// ---------------------------------------------------------------------------------------------
// Seeding running pods the way an earlier scheduler would have left them
// ---------------------------------------------------------------------------------------------

/** The quota one more pod may not break: limits, and deserved for non-preemptible work (GPU). */
function quotaAllows(world: World, g: WorldGroup, pool: string, gpuMilli: number): boolean {
  const project = world.queues.find((q) => q.name === g.queue);
  const chain = [project, world.queues.find((q) => q.name === project?.parent)];
  for (const q of chain) {
    if (!q) continue;
    const quota = q.quotas[pool];
    if (!quota && q.parent === null) continue;
    const used = held(world, q.name, pool, false);
    const usedNp = held(world, q.name, pool, true);
    if (quota && quota.limit.gpuMilli !== UNLIMITED && used.gpuMilli + gpuMilli > quota.limit.gpuMilli)
      return false;
    if (!g.preemptible && gpuMilli > 0 && usedNp.gpuMilli + gpuMilli > (quota?.deserved.gpuMilli ?? 0))
      return false;
  }
  return true;
}

/** What a queue's pods (only non-preemptible ones, if asked) hold in a pool. */
function held(world: World, queue: string, pool: string, nonPreemptibleOnly: boolean): Resources {
  const members = new Set(
    world.queues.filter((q) => q.name === queue || q.parent === queue).map((q) => q.name),
  );
  const poolOf = new Map(world.nodes.map((n) => [n.name, n.pool]));
  let out = zeroRes();
  for (const g of world.groups) {
    if (!members.has(g.queue) || (nonPreemptibleOnly && g.preemptible)) continue;
    for (const p of g.pods) {
      if (poolOf.get(p.node) !== pool) continue;
      const gpuMilli = p.grants.reduce((s, x) => s + x.gpuMilli, 0);
      out = addRes(out, { gpuMilli, cpuMillis: g.request.cpuMillis, memoryMiB: g.request.memoryMiB });
    }
  }
  return out;
}

/** First-fit one pod of `g` somewhere allowed (cordoned nodes too: pods may predate a cordon). */
function seedPod(world: World, g: WorldGroup, ordinal: number): boolean {
  const u = usage(world);
  for (const pool of g.nodePools) {
    for (const node of world.nodes) {
      if (node.pool !== pool) continue;
      if (g.nodeTypes.length > 0 && !g.nodeTypes.includes(node.nodeType)) continue;
      const nu = u.node.get(node.name);
      if (
        !nu ||
        nu.cpuMillis + g.request.cpuMillis > node.cpuMillis ||
        nu.memoryMiB + g.request.memoryMiB > node.memoryMiB
      ) {
        continue;
      }
      const usable = node.gpus.filter(
        (x) => x.healthy && (g.gpuModels.length === 0 || g.gpuModels.includes(x.model)),
      );
      const grants: GpuGrant[] = [];
      const req = g.request.gpu;
      if (req.kind === 'devices') {
        for (const x of usable)
          if (grants.length < req.count && (u.gpu.get(x.uuid)?.milli ?? 0) === 0)
            grants.push(grantFor(req, x));
        if (grants.length < req.count) continue;
      } else if (req.kind !== 'none') {
        const x = usable.find((gpu) => {
          const grant = grantFor(req, gpu);
          const gu = u.gpu.get(gpu.uuid);
          return (
            (gu?.milli ?? 0) + grant.gpuMilli <= 1000 &&
            (gu?.memoryMiB ?? 0) + grant.memoryMiB <= gpu.memoryMiB
          );
        });
        if (!x) continue;
        grants.push(grantFor(req, x));
      }
      if (
        !quotaAllows(
          world,
          g,
          pool,
          grants.reduce((s, x) => s + x.gpuMilli, 0),
        )
      )
        continue;
      g.pods.push({
        name: `${g.name}-${ordinal}`,
        node: node.name,
        grants,
        boundAtMs: world.nowMs - 5 * 60_000 + ordinal * 1000,
      });
      return true;
    }
  }
  return false;
}

/** The world of a generated cluster, with its running pods seeded. */
function worldOf(c: GenCluster): World {
  const world = buildWorld({
    nodes: c.nodes,
    pools: Object.fromEntries(c.pools.map((p, i) => [`p${i}`, p])),
    departments: c.departments,
    projects: c.projects,
    workloads: c.workloads.map((w) => w.def),
    config: {
      staleGangGraceMs: GRACE_MS,
      ...(c.usageWeight > 0
        ? {
            usage: Object.fromEntries(
              c.usage.map((u, i) => [`q${i}`, Object.fromEntries(c.pools.map((_, p) => [`p${p}`, u]))]),
            ),
            usageWeight: c.usageWeight,
          }
        : {}),
    },
  });
  c.workloads.forEach((w, i) => {
    const g = world.groups[i];
    if (!g || w.seed === 'none') return;
    const target =
      w.seed === 'full'
        ? g.minMember + Math.min(w.seedPick, g.maxMember - g.minMember)
        : g.minMember > 1
          ? 1 + (w.seedPick % (g.minMember - 1))
          : 0;
    for (let k = 0; k < target; k++) if (!seedPod(world, g, k)) break;
    // A full seed that could not place its whole gang is not seeded at all (gangs are all or nothing).
    if (w.seed === 'full' && g.pods.length < g.minMember) g.pods = [];
    if (g.pods.length > 0 && g.pods.length < g.minMember) g.belowMinSinceMs = world.nowMs - w.belowMinAgoMs;
  });
  return world;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** Run one cycle on the world and apply its plan (applyPlan itself checks capacity and binds). */
function step(world: World): { before: World; plan: Plan } {
  const before = structuredClone(world);
  const plan = runCycle(snapshotOf(world));
  applyPlan(world, plan);
  world.nowMs += STEP_MS;
  return { before, plan };
}

function gangsAllOrNothing(before: World, after: World, plan: Plan): void {
  // Every workload left short of its gang, and only those, says why it waits.
  const short = after.groups.filter((g) => g.pods.length < g.minMember).map((g) => g.id);
  expect(plan.pending.map((p) => p.group).sort()).toEqual(short.sort());
  for (const p of plan.pending) expect(p.reason.length).toBeGreaterThan(0);
  for (const g of after.groups) {
    const was = before.groups.find((x) => x.id === g.id);
    expect(g.pods.length, `${g.id} above its elastic ceiling`).toBeLessThanOrEqual(
      Math.max(g.maxMember, was?.pods.length ?? 0),
    );
  }
  for (const g of after.groups) {
    if (g.pods.length === 0 || g.pods.length >= g.minMember) continue;
    const was = before.groups.find((x) => x.id === g.id);
    const since = was?.belowMinSinceMs;
    const startedBelow = was !== undefined && was.pods.length > 0 && was.pods.length < was.minMember;
    const staleDue = since !== undefined && before.nowMs - since >= before.config.staleGangGraceMs;
    expect(startedBelow && !staleDue, `${g.id} holds ${g.pods.length} of ${g.minMember} pods`).toBe(true);
    expect(g.pods.length, `${g.id} grew or shrank while below its gang size`).toBeLessThanOrEqual(
      was?.pods.length ?? 0,
    );
  }
}

function quotasHold(world: World): void {
  const pools = world.pools.map((p) => p.name);
  for (const q of world.queues) {
    for (const pool of pools) {
      const quota = q.quotas[pool];
      const np = held(world, q.name, pool, true);
      const all = held(world, q.name, pool, false);
      if (q.parent !== null || quota) {
        const deserved = quota?.deserved.gpuMilli ?? 0;
        expect(np.gpuMilli, `non-preemptible GPU of ${q.name} in ${pool}`).toBeLessThanOrEqual(deserved);
      }
      if (quota && quota.limit.gpuMilli !== UNLIMITED) {
        expect(all.gpuMilli, `GPU of ${q.name} in ${pool} vs its limit`).toBeLessThanOrEqual(
          quota.limit.gpuMilli,
        );
      }
    }
  }
}

/** A seeded PRNG (mulberry32): shuffles are random across runs, reproducible within one. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function shuffle<T>(xs: readonly T[], next: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The same snapshot with every unordered input list in another order. */
function shuffled(s: Snapshot, seed: number): Snapshot {
  const next = rng(seed);
  return {
    ...s,
    nodes: shuffle(s.nodes, next).map((n) => ({ ...n, gpus: shuffle(n.gpus, next) })),
    pools: shuffle(s.pools, next),
    queues: shuffle(s.queues, next),
    groups: shuffle(s.groups, next).map((g) => ({ ...g, pods: shuffle(g.pods, next) })),
  };
}

/** Fair-share inputs derived from the snapshot here, independently of the session. */
function fairShareInput(s: Snapshot) {
  const poolOf = new Map(s.nodes.map((n) => [n.name, n.pool]));
  const capacity = new Map<string, Resources>();
  const gpuMemory = new Map<string, number>();
  for (const n of s.nodes) {
    for (const g of n.gpus) gpuMemory.set(n.pool, Math.max(gpuMemory.get(n.pool) ?? 0, g.memoryMiB));
    if (!n.schedulable) continue;
    const healthy = n.gpus.filter((g) => g.healthy).length * 1000;
    capacity.set(
      n.pool,
      addRes(capacity.get(n.pool) ?? zeroRes(), {
        gpuMilli: healthy,
        cpuMillis: n.cpuMillis,
        memoryMiB: n.memoryMiB,
      }),
    );
  }
  const allocated = new Map<string, Map<string, Resources>>();
  const pending = new Map<string, Map<string, Resources>>();
  const add = (m: Map<string, Map<string, Resources>>, q: string, pool: string, r: Resources) => {
    const byPool = m.get(q) ?? new Map<string, Resources>();
    byPool.set(pool, addRes(byPool.get(pool) ?? zeroRes(), r));
    m.set(q, byPool);
  };
  for (const g of s.groups) {
    for (const p of g.pods) {
      const gpuMilli = p.grants.reduce((sum, x) => sum + x.gpuMilli, 0);
      add(allocated, g.queue, poolOf.get(p.node) ?? 'default', {
        gpuMilli,
        cpuMillis: g.request.cpuMillis,
        memoryMiB: g.request.memoryMiB,
      });
    }
    const wanted = Math.max(g.minMember, g.maxMember) - g.pods.length;
    if (wanted <= 0) continue;
    for (const pool of g.nodePools) {
      const r = g.request.gpu;
      const one =
        r.kind === 'devices'
          ? r.count * 1000
          : r.kind === 'fraction'
            ? r.milli
            : r.kind === 'memory'
              ? memoryToGpuMilli(r.memoryMiB, gpuMemory.get(pool) ?? 0)
              : 0;
      add(pending, g.queue, pool, {
        gpuMilli: one * wanted,
        cpuMillis: g.request.cpuMillis * wanted,
        memoryMiB: g.request.memoryMiB * wanted,
      });
    }
  }
  const pools = [...new Set([...s.pools.map((p) => p.name), ...capacity.keys()])].sort();
  const { usage: past, usageWeight } = s.config;
  return {
    pools,
    capacity,
    queues: s.queues,
    allocated,
    pending,
    ...(past !== undefined ? { usage: past } : {}),
    ...(usageWeight !== undefined ? { usageWeight } : {}),
  };
}

const KEYS = ['gpuMilli', 'cpuMillis', 'memoryMiB'] as const;

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('scheduler properties', () => {
  it('nothing is ever over-committed and every bind lands on an allowed, healthy, schedulable place', () => {
    fc.assert(
      fc.property(clusterArb, (c) => {
        const world = worldOf(c);
        // applyPlan throws on any GPU over 1000 milli or its memory, any node over CPU or memory,
        // and any bind to a cordoned node, an unhealthy GPU or a pool / type / model not allowed.
        for (let i = 0; i < 3; i++) step(world);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('gangs are all or nothing, except gangs already short whose grace has not run out', () => {
    fc.assert(
      fc.property(clusterArb, (c) => {
        const world = worldOf(c);
        for (let i = 0; i < 3; i++) {
          const { before, plan } = step(world);
          gangsAllOrNothing(before, world, plan);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('non-preemptible work stays within deserved and nothing passes a limit', () => {
    fc.assert(
      fc.property(clusterArb, (c) => {
        const world = worldOf(c);
        quotasHold(world);
        for (let i = 0; i < 3; i++) {
          step(world);
          quotasHold(world);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('fair shares fit the capacity, never exceed what a queue can use, and are the ones the cycle uses', () => {
    fc.assert(
      fc.property(clusterArb, (c) => {
        const snapshot = snapshotOf(worldOf(c));
        const input = fairShareInput(snapshot);
        const shares = computeFairShares(input);
        const session = openSession(snapshot);
        for (const pool of input.pools) {
          const roots = snapshot.queues.filter((q) => q.parent === null);
          for (const k of KEYS) {
            const cap = input.capacity.get(pool)?.[k] ?? 0;
            const sum = roots.reduce((s, q) => s + (shares.get(q.name)?.get(pool)?.fairShare[k] ?? 0), 0);
            expect(sum, `${k} fair shares in ${pool}`).toBeLessThanOrEqual(cap);
          }
          for (const q of snapshot.queues) {
            const share = shares.get(q.name)?.get(pool);
            if (!share) throw new Error(`no share for ${q.name} in ${pool}`);
            const kids = snapshot.queues.filter((x) => x.parent === q.name);
            for (const k of KEYS) {
              expect(share.fairShare[k]).toBeGreaterThanOrEqual(0);
              expect(share.fairShare[k], `${q.name} ${k} in ${pool} vs requestable`).toBeLessThanOrEqual(
                share.requestable[k],
              );
              const kidSum = kids.reduce((s, x) => s + (shares.get(x.name)?.get(pool)?.fairShare[k] ?? 0), 0);
              if (kids.length > 0)
                expect(kidSum, `${q.name} ${k} children`).toBeLessThanOrEqual(share.fairShare[k]);
            }
            expect(session.shares.get(q.name)?.get(pool), `session share of ${q.name} in ${pool}`).toEqual(
              share,
            );
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('the same snapshot always gives the same plan, whatever the order of its inputs', () => {
    fc.assert(
      fc.property(clusterArb, fc.integer(), (c, seed) => {
        const snapshot = snapshotOf(worldOf(c));
        const plan = runCycle(snapshot);
        expect(runCycle(snapshot)).toEqual(plan);
        expect(runCycle(shuffled(snapshot, seed))).toEqual(plan);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('reclaim, preempt and consolidate evict only preemptible work, by their own rules, and reclaim keeps victims at their share', () => {
    // Runs in which reclaim or preempt evicted at all: a property whose clusters never evict checks nothing.
    const evicting = { reclaim: 0, preempt: 0 };
    fc.assert(
      fc.property(evictionArb, (c) => {
        const world = worldOf(c);
        const actions = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const { before, plan } = step(world);
          for (const e of plan.evictions) actions.add(e.action);
          const byId = new Map(before.groups.map((g) => [g.id, g]));
          // Reclaim leaves each victim project max(deserved, fairShare) of GPU in the pool. Counted
          // as reclaim saw it: after allocate and consolidate, before preempt (by which the project may
          // then reshuffle its own work by priority) and elastic.
          const shares = computeFairShares(fairShareInput(snapshotOf(before)));
          const poolOf = new Map(before.nodes.map((n) => [n.name, n.pool]));
          const seen = new Map<string, number>();
          const keyOf = (group: string, node: string) => `${byId.get(group)?.queue}|${poolOf.get(node)}`;
          const early = new Set(['allocate', 'consolidate', 'reclaim']);
          for (const b of plan.binds) {
            if (!early.has(b.action)) continue;
            const key = keyOf(b.group, b.node);
            seen.set(key, (seen.get(key) ?? 0) + b.grants.reduce((sum, x) => sum + x.gpuMilli, 0));
          }
          const victims = new Set<string>();
          for (const e of plan.evictions) {
            if (!early.has(e.action)) continue;
            const key = keyOf(e.group, e.node);
            if (e.action === 'reclaim') victims.add(key);
            const pod = byId.get(e.group)?.pods.find((p) => p.name === e.pod);
            seen.set(key, (seen.get(key) ?? 0) - (pod?.grants.reduce((sum, x) => sum + x.gpuMilli, 0) ?? 0));
          }
          for (const key of victims) {
            const [project = '', pool = ''] = key.split('|');
            const share = shares.get(project)?.get(pool);
            const entitled = Math.max(share?.deserved.gpuMilli ?? 0, share?.fairShare.gpuMilli ?? 0);
            const had = held(before, project, pool, false).gpuMilli;
            expect(
              had + (seen.get(key) ?? 0),
              `${project} reclaimed below its share in ${pool}`,
            ).toBeGreaterThanOrEqual(Math.min(had, entitled));
          }
          for (const e of plan.evictions) {
            const g = byId.get(e.group);
            if (!g) throw new Error(`eviction of unknown ${e.group}`);
            if (e.action === 'stale-gang') continue;
            expect(g.preemptible, `${e.action} evicted non-preemptible ${e.group}`).toBe(true);
            if (e.action === 'preempt') {
              // Some higher-priority workload of the same project was bound by preempt.
              const by = plan.binds.filter((b) => b.action === 'preempt').map((b) => byId.get(b.group));
              expect(
                by.some((x) => x && x.queue === g.queue && x.priority > g.priority),
                `preempt of ${e.group}`,
              ).toBe(true);
            }
            if (e.action === 'reclaim') {
              // Preempt, later in the cycle, may hand the reclaimed room to a higher-priority workload
              // of the reclaiming project: the reclaimer's bind and its eviction then cancel out.
              const by = plan.binds
                .filter((b) => b.action === 'reclaim' || b.action === 'preempt')
                .map((b) => byId.get(b.group));
              expect(
                by.some((x) => x && x.queue !== g.queue),
                `reclaim of ${e.group}`,
              ).toBe(true);
            }
          }
        }
        if (actions.has('reclaim')) evicting.reclaim++;
        if (actions.has('preempt')) evicting.preempt++;
      }),
      { numRuns: NUM_RUNS, seed: PROPERTY_SEED },
    );
    // Of 100 runs, reclaim evicts in 36 and preempt in 32 with the fixed seed, and in 32-43 and
    // 28-35 with seeds 1-8; on clusterArb alone it was 0-3 and 6-13.
    expect(evicting.reclaim, 'runs in which reclaim evicted').toBeGreaterThanOrEqual(NUM_RUNS * 0.2);
    expect(evicting.preempt, 'runs in which preempt evicted').toBeGreaterThanOrEqual(NUM_RUNS * 0.2);
  });

  it('applying plans converges: a few cycles later the scheduler plans nothing', () => {
    fc.assert(
      fc.property(evictionArb, (c) => {
        const world = worldOf(c);
        const history: Plan[] = [];
        let quiet = 0;
        // Every timer here (minRuntime, stale-gang grace) is at most 30 s, three cycles.
        for (let i = 0; i < 16 && quiet < 3; i++) {
          const { plan } = step(world);
          history.push(plan);
          quiet = isEmptyPlan(plan) ? quiet + 1 : 0;
        }
        const trace = history
          .map(
            (p, i) =>
              `cycle ${i}: ${[...p.binds.map((b) => `+${b.pod}@${b.node}(${b.action})`), ...p.evictions.map((e) => `-${e.pod}(${e.action})`)].join(' ')}`,
          )
          .join('\n');
        expect(quiet, `no quiet cycles after ${history.length}:\n${trace}`).toBe(3);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
