/**
 * Scenario tables (docs/style.md, "Scenario tables"): each pins one behaviour of docs/architecture.md §2-3. Every
 * scenario runs its cycles with plans applied, then five more that must change nothing.
 * Expectations are computed by hand from docs/architecture.md, not read off the scheduler.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario, gpuUuid, type Scenario, START_MS, type WorkloadDef } from './harness.ts';

const HOUR = 3_600_000;

/** `n` single-pod workloads named `${prefix}1..n` of one project. */
function many(prefix: string, project: string, n: number, extra: Partial<WorkloadDef> = {}): WorkloadDef[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i + 1}`, project, ...extra }));
}

const SCENARIOS: Scenario[] = [
  // ----- allocate -------------------------------------------------------------------------------
  {
    name: 'allocate places whole-GPU workloads into free capacity',
    nodes: [{ name: 'n1', gpus: 8 }],
    projects: [{ name: 'p', deserved: 8 }],
    workloads: [
      { name: 'w4', project: 'p', gpus: 4 },
      { name: 'w2', project: 'p', gpus: 2 },
      { name: 'w1', project: 'p', gpus: 1 },
    ],
    expect: {
      phases: { w4: 'Running', w2: 'Running', w1: 'Running' },
      binds: 3,
      evictions: 0,
      bindsByAction: { allocate: 3 },
    },
    check: (r) => {
      const grants = r.pods('w4')[0]?.grants ?? [];
      expect(new Set(grants.map((g) => g.uuid)).size).toBe(4);
      for (const g of grants)
        expect(g).toMatchObject({ gpuMilli: 1000, memoryMiB: 40_960, memoryLimitMiB: 40_960 });
    },
  },
  {
    name: 'binpack puts a pod on the fullest node that fits',
    nodes: [
      { name: 'n1', gpus: 4 },
      { name: 'n2', gpus: 4 },
    ],
    pools: { default: 'binpack' },
    projects: [{ name: 'p', deserved: 8 }],
    workloads: [
      { name: 'old', project: 'p', gpus: 2, running: ['n2'] },
      { name: 'w', project: 'p', gpus: 1 },
    ],
    expect: { phases: { w: 'Running' }, binds: 1, evictions: 0 },
    check: (r) => expect(r.pods('w')[0]?.node).toBe('n2'),
  },
  {
    name: 'spread puts pods on the emptiest nodes',
    nodes: [
      { name: 'n1', gpus: 4 },
      { name: 'n2', gpus: 4 },
      { name: 'n3', gpus: 4 },
    ],
    pools: { default: 'spread' },
    projects: [{ name: 'p', deserved: 12 }],
    workloads: [
      { name: 'old', project: 'p', gpus: 2, running: ['n1'] },
      { name: 'wa', project: 'p', gpus: 1 },
      { name: 'wb', project: 'p', gpus: 1 },
    ],
    expect: { phases: { wa: 'Running', wb: 'Running' }, binds: 2, evictions: 0 },
    check: (r) => {
      const a = r.pods('wa')[0]?.node;
      const b = r.pods('wb')[0]?.node;
      expect([a, b]).not.toContain('n1');
      expect(a).not.toBe(b);
    },
  },
  {
    name: 'two half-GPU fractions share one GPU and leave the other whole',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 'f1', project: 'p', fraction: 0.5 },
      { name: 'f2', project: 'p', fraction: 0.5 },
      { name: 'w', project: 'p', gpus: 1 },
    ],
    expect: { phases: { f1: 'Running', f2: 'Running', w: 'Running' }, binds: 3, evictions: 0 },
    check: (r) => {
      const g1 = r.pods('f1')[0]?.grants[0];
      const g2 = r.pods('f2')[0]?.grants[0];
      expect(g1?.uuid).toBe(g2?.uuid);
      expect(g1).toMatchObject({ gpuMilli: 500, memoryMiB: 20_480 });
      expect(r.pods('w')[0]?.grants[0]?.uuid).not.toBe(g1?.uuid);
    },
  },
  {
    name: 'fractions never push a GPU past 1000 milli',
    nodes: [{ name: 'n1', gpus: 1 }],
    projects: [{ name: 'p', deserved: 1 }],
    workloads: [
      { name: 'f1', project: 'p', fraction: 0.4 },
      { name: 'f2', project: 'p', fraction: 0.4 },
      { name: 'f3', project: 'p', fraction: 0.4 },
    ],
    expect: { phases: { f1: 'Running', f2: 'Running', f3: 'Pending' }, binds: 2, evictions: 0 },
  },
  {
    name: 'memory-sized fractions are sized and capped by GPU memory',
    nodes: [{ name: 'n1', gpus: '2xA100x40960' }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 'm1', project: 'p', gpuMemoryMiB: 30_720 },
      { name: 'm2', project: 'p', gpuMemoryMiB: 30_720 },
      // More memory than any GPU has: never placed, whatever is free.
      { name: 'huge', project: 'p', gpuMemoryMiB: 49_152 },
    ],
    expect: { phases: { m1: 'Running', m2: 'Running', huge: 'Pending' }, binds: 2, evictions: 0 },
    check: (r) => {
      const g1 = r.pods('m1')[0]?.grants[0];
      const g2 = r.pods('m2')[0]?.grants[0];
      // 30 GiB of a 40 GiB GPU is 750 milli; two of them cannot share one GPU.
      expect(g1).toMatchObject({ gpuMilli: 750, memoryMiB: 30_720 });
      expect(g1?.uuid).not.toBe(g2?.uuid);
    },
  },
  {
    name: 'dynamic fractions are placed by request, not limit, and grants carry the limit',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 'd1', project: 'p', fraction: 0.5, fractionLimit: 0.9 },
      { name: 'd2', project: 'p', fraction: 0.5, fractionLimit: 1 },
      { name: 'e1', project: 'p', gpuMemoryMiB: 10_240, gpuMemoryLimitMiB: 30_720 },
      { name: 'e2', project: 'p', gpuMemoryMiB: 10_240, gpuMemoryLimitMiB: 30_720 },
    ],
    expect: {
      phases: { d1: 'Running', d2: 'Running', e1: 'Running', e2: 'Running' },
      binds: 4,
      evictions: 0,
    },
    check: (r) => {
      const d1 = r.pods('d1')[0]?.grants[0];
      const d2 = r.pods('d2')[0]?.grants[0];
      const e1 = r.pods('e1')[0]?.grants[0];
      const e2 = r.pods('e2')[0]?.grants[0];
      expect(d1).toMatchObject({ gpuMilli: 500, memoryMiB: 20_480, memoryLimitMiB: 36_864 });
      expect(d2).toMatchObject({ gpuMilli: 500, memoryMiB: 20_480, memoryLimitMiB: 40_960 });
      expect(d1?.uuid).toBe(d2?.uuid);
      expect(e1).toMatchObject({ gpuMilli: 250, memoryMiB: 10_240, memoryLimitMiB: 30_720 });
      // Limits add up past the GPU's 40 GiB; requests (20 GiB) do not, so both share the other GPU.
      expect(e1?.uuid).toBe(e2?.uuid);
      expect(e1?.uuid).not.toBe(d1?.uuid);
    },
  },

  {
    name: 'a dynamic-fraction limit given in the other unit still reaches the grant',
    nodes: [{ name: 'n1', gpus: 1 }],
    projects: [{ name: 'p', deserved: 1 }],
    workloads: [
      { name: 'f', project: 'p', fraction: 0.25, fractionLimitMiB: 30_720 },
      { name: 'm', project: 'p', gpuMemoryMiB: 8192, gpuMemoryLimitFraction: 0.5 },
      // A limit past the GPU's memory cannot be borrowed: it stops at the GPU.
      { name: 'big', project: 'p', gpuMemoryMiB: 8192, gpuMemoryLimitMiB: 65_536 },
    ],
    expect: { phases: { f: 'Running', m: 'Running', big: 'Running' }, binds: 3, evictions: 0 },
    check: (r) => {
      expect(r.pods('f')[0]?.grants[0]).toMatchObject({
        gpuMilli: 250,
        memoryMiB: 10_240,
        memoryLimitMiB: 30_720,
      });
      expect(r.pods('m')[0]?.grants[0]).toMatchObject({
        gpuMilli: 200,
        memoryMiB: 8192,
        memoryLimitMiB: 20_480,
      });
      expect(r.pods('big')[0]?.grants[0]).toMatchObject({ memoryMiB: 8192, memoryLimitMiB: 40_960 });
    },
  },

  // ----- gangs ----------------------------------------------------------------------------------
  {
    name: 'a gang is placed whole across nodes',
    nodes: [
      { name: 'n1', gpus: 4 },
      { name: 'n2', gpus: 4 },
    ],
    projects: [{ name: 'p', deserved: 8 }],
    workloads: [{ name: 'dist', project: 'p', type: 'distributed', gpus: 2, minMember: 4 }],
    expect: {
      phases: { dist: 'Running' },
      pods: { dist: 4 },
      binds: 4,
      bindsByAction: { allocate: 4 },
      evictions: 0,
    },
    check: (r) => {
      const nodes = r.pods('dist').map((p) => p.node);
      expect(nodes.filter((n) => n === 'n1')).toHaveLength(2);
      expect(nodes.filter((n) => n === 'n2')).toHaveLength(2);
    },
  },
  {
    name: 'a gang that fits only partly stays Pending and says how many pods fit',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
      { name: 'n3', gpus: 2 },
    ],
    projects: [{ name: 'p', deserved: 8 }],
    workloads: [{ name: 'dist', project: 'p', type: 'distributed', gpus: 2, minMember: 4 }],
    expect: {
      phases: { dist: 'Pending' },
      pods: { dist: 0 },
      binds: 0,
      evictions: 0,
      pending: { dist: 'gang needs 4 pods, 3 fit' },
    },
  },
  {
    name: 'a gang that lost a pod gets it back when there is room, without being evicted',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [{ name: 'g', project: 'p', type: 'distributed', minMember: 2, running: ['n1', 'n1'] }],
    events: [{ beforeCycle: 0, event: { kind: 'pod-fails', workload: 'g' } }],
    expect: { phases: { g: 'Running' }, pods: { g: 2 }, binds: 1, evictions: 0 },
    check: (r) => expect(new Set(r.pods('g').map((p) => p.name)).size).toBe(2),
  },

  // ----- quota ----------------------------------------------------------------------------------
  {
    name: 'a project at its GPU limit waits, and the reason names the limit',
    nodes: [{ name: 'n1', gpus: 8 }],
    projects: [{ name: 'p', quotas: { default: { deserved: 1, limit: 2 } } }],
    workloads: [
      { name: 'w1', project: 'p', gpus: 2, running: ['n1'] },
      { name: 'w2', project: 'p', gpus: 1 },
    ],
    expect: {
      phases: { w1: 'Running', w2: 'Pending' },
      binds: 0,
      evictions: 0,
      pending: { w2: 'project p is at its limit of 2 GPUs in pool default' },
    },
  },
  {
    name: 'a department limit caps its projects together',
    nodes: [{ name: 'n1', gpus: 8 }],
    departments: [{ name: 'd', quotas: { default: { limit: 3 } } }],
    projects: [
      { name: 'a', department: 'd', deserved: 0 },
      { name: 'b', department: 'd', deserved: 0 },
    ],
    workloads: [...many('a', 'a', 2), ...many('b', 'b', 2)],
    expect: { binds: 3, evictions: 0 },
    check: (r) => {
      expect(r.pods('a1').length + r.pods('a2').length + r.pods('b1').length + r.pods('b2').length).toBe(3);
      const reasons = ['a1', 'a2', 'b1', 'b2'].map((w) => r.pendingReason(w)).filter((x) => x !== undefined);
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toContain('department d is at its limit of 3 GPUs in pool default');
    },
  },
  {
    name: 'non-preemptible work is refused beyond deserved quota, preemptible work is not',
    nodes: [{ name: 'n1', gpus: 8 }],
    projects: [{ name: 'p', deserved: 1 }],
    workloads: [
      { name: 'ws1', project: 'p', type: 'workspace', running: ['n1'] },
      { name: 'ws2', project: 'p', type: 'workspace' },
      { name: 't', project: 'p', type: 'training' },
    ],
    expect: {
      phases: { ws1: 'Running', ws2: 'Pending', t: 'Running' },
      binds: 1,
      evictions: 0,
      pending: { ws2: 'deserved' },
    },
  },
  {
    name: 'a non-preemptible job never preempts its way past deserved quota',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 1 }],
    workloads: [
      { name: 'ws1', project: 'p', type: 'workspace', running: ['n1'] },
      { name: 't', project: 'p', type: 'training', running: ['n1'] },
      { name: 'ws2', project: 'p', type: 'workspace' },
    ],
    expect: {
      phases: { ws1: 'Running', t: 'Running', ws2: 'Pending' },
      binds: 0,
      evictions: 0,
      pending: { ws2: 'deserved' },
    },
  },
  {
    name: 'preemptible work runs over quota on idle capacity',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 1 },
      { name: 'b', deserved: 3 },
    ],
    workloads: many('t', 'a', 4),
    expect: {
      phases: { t1: 'Running', t2: 'Running', t3: 'Running', t4: 'Running' },
      binds: 4,
      evictions: 0,
    },
  },
  {
    name: 'an inference service grows elastically only within deserved quota',
    nodes: [{ name: 'n1', gpus: 8 }],
    projects: [{ name: 'p', deserved: 3 }],
    workloads: [{ name: 'inf', project: 'p', type: 'inference', minMember: 1, maxMember: 6 }],
    expect: {
      phases: { inf: 'Running' },
      pods: { inf: 3 },
      bindsByAction: { allocate: 1, elastic: 2 },
      evictions: 0,
    },
  },

  // ----- reclaim --------------------------------------------------------------------------------
  {
    name: 'reclaim: a project below its fair share takes GPUs back from one above it',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 2 },
      { name: 'b', deserved: 2 },
    ],
    workloads: many('a', 'a', 4),
    events: [
      { beforeCycle: 1, event: { kind: 'arrive', workload: { name: 'b1', project: 'b' } } },
      { beforeCycle: 1, event: { kind: 'arrive', workload: { name: 'b2', project: 'b' } } },
    ],
    expect: {
      phases: { b1: 'Running', b2: 'Running' },
      bindsByAction: { allocate: 4, reclaim: 2 },
      evictionsByAction: { reclaim: 2 },
    },
    check: (r) => {
      expect(['a1', 'a2', 'a3', 'a4'].filter((w) => r.phase(w) === 'Running')).toHaveLength(2);
      for (const e of r.evictions) expect(e.reason).toContain('reclaimed by project b');
    },
  },
  {
    name: "reclaim: a workspace takes back its project's deserved GPU from borrowed training",
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 2 },
      { name: 'b', deserved: 2 },
    ],
    workloads: [...many('b', 'b', 4, { running: ['n1'] }), { name: 'ws', project: 'a', type: 'workspace' }],
    expect: {
      phases: { ws: 'Running' },
      evictionsByAction: { reclaim: 1 },
      bindsByAction: { reclaim: 1 },
      evictions: 1,
    },
  },
  {
    name: 'reclaim across departments takes from the project above its share, not its sibling at it',
    nodes: [{ name: 'n1', gpus: 4 }],
    departments: [
      { name: 'd1', quotas: { default: { deserved: 2 } } },
      { name: 'd2', quotas: { default: { deserved: 2 } } },
    ],
    projects: [
      { name: 'a', department: 'd1', deserved: 0 },
      { name: 'b1', department: 'd2', deserved: 0 },
      { name: 'b2', department: 'd2', deserved: 0 },
    ],
    workloads: [
      ...many('b1-', 'b1', 3).map((w, i) => ({
        ...w,
        running: [{ node: 'n1', boundAtMs: START_MS - (3 - i) * HOUR }],
      })),
      // The youngest pod on the node, so the first victim tried; b2 is at its share of d2's 2 GPUs.
      { name: 'b2-1', project: 'b2', running: [{ node: 'n1', boundAtMs: START_MS - HOUR / 2 }] },
      ...many('a', 'a', 2),
    ],
    expect: {
      phases: { a1: 'Running', a2: 'Running', 'b2-1': 'Running' },
      evictionsByAction: { reclaim: 2 },
      evictions: 2,
    },
    check: (r) => {
      for (const e of r.evictions) expect(e.group.startsWith('b1/')).toBe(true);
    },
  },
  {
    name: 'reclaim that would loop is refused (equal shares, an odd GPU)',
    nodes: [{ name: 'n1', gpus: 3 }],
    projects: [
      { name: 'a', deserved: 1 },
      { name: 'b', deserved: 1 },
    ],
    workloads: [
      { name: 'a1', project: 'a', running: ['n1'] },
      { name: 'a2', project: 'a', running: ['n1'] },
      { name: 'b1', project: 'b', running: ['n1'] },
      { name: 'b2', project: 'b' },
    ],
    // Fair shares are 1.5 GPUs each: taking a GPU from a would put a below its share and b above.
    expect: {
      phases: { a1: 'Running', a2: 'Running', b1: 'Running', b2: 'Pending' },
      binds: 0,
      evictions: 0,
    },
  },
  {
    name: 'reclaim never evicts non-preemptible work, even far above its fair share',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    // Deserved is over-committed (6 on 4 GPUs); the older project b is honoured first, so a's fair
    // share is 1 GPU while its three workspaces hold 3.
    projects: [
      { name: 'b', deserved: 3 },
      { name: 'a', deserved: 3 },
    ],
    workloads: [
      { name: 'ws1', project: 'a', type: 'workspace', running: ['n1'] },
      { name: 'ws2', project: 'a', type: 'workspace', running: ['n1'] },
      { name: 'ws3', project: 'a', type: 'workspace', running: ['n2'] },
      { name: 't1', project: 'b', running: ['n2'] },
      { name: 't2', project: 'b' },
      { name: 't3', project: 'b' },
    ],
    expect: {
      phases: { ws1: 'Running', ws2: 'Running', ws3: 'Running', t1: 'Running', t2: 'Pending', t3: 'Pending' },
      binds: 0,
      evictions: 0,
    },
  },
  {
    name: 'an elastic workload shrinks before another workload is evicted',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 2 },
      { name: 'b', deserved: 2 },
    ],
    workloads: [
      { name: 't', project: 'a', running: ['n1'] },
      {
        name: 'dist',
        project: 'a',
        type: 'distributed',
        minMember: 1,
        maxMember: 3,
        running: ['n1', 'n1', 'n1'],
      },
      { name: 'bt', project: 'b' },
    ],
    expect: {
      phases: { t: 'Running', dist: 'Running', bt: 'Running' },
      pods: { dist: 2, t: 1 },
      evictionsByAction: { reclaim: 1 },
      evictions: 1,
    },
    check: (r) => {
      expect(r.evictions[0]?.group).toBe('a/dist');
      expect(r.plans.flatMap((p) => p.phaseChanges)).toEqual([]);
    },
  },

  // ----- preempt --------------------------------------------------------------------------------
  {
    name: 'preempt: a build workspace evicts lower-priority training in its own project',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 't1', project: 'p', running: [{ node: 'n1', boundAtMs: START_MS - 2 * HOUR }] },
      { name: 't2', project: 'p', running: [{ node: 'n1', boundAtMs: START_MS - HOUR }] },
    ],
    events: [
      {
        beforeCycle: 1,
        event: { kind: 'arrive', workload: { name: 'ws', project: 'p', type: 'workspace' } },
      },
    ],
    expect: {
      phases: { t1: 'Running', t2: 'Pending', ws: 'Running' },
      bindsByAction: { preempt: 1 },
      evictionsByAction: { preempt: 1 },
      binds: 1,
      evictions: 1,
    },
    check: (r) => {
      expect(r.evictions[0]?.reason).toContain('preempted by ws');
      expect(r.plans[1]?.phaseChanges).toEqual([
        { group: 'p/t2', to: 'Pending', reason: r.evictions[0]?.reason },
      ]);
    },
  },
  {
    name: 'preempt: build-preemptible work evicts training in its own project, even over quota',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 0 }],
    workloads: [
      { name: 't1', project: 'p', running: ['n1'] },
      { name: 't2', project: 'p', running: ['n1'] },
      { name: 'bp', project: 'p', type: 'build-preemptible' },
    ],
    expect: { phases: { bp: 'Running' }, evictionsByAction: { preempt: 1 }, bindsByAction: { preempt: 1 } },
  },
  {
    name: 'preempt never crosses projects',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [
      { name: 'a', deserved: 2 },
      { name: 'b', deserved: 0 },
    ],
    workloads: [
      { name: 't1', project: 'a', running: ['n1'] },
      { name: 't2', project: 'a', running: ['n1'] },
      { name: 'bp', project: 'b', type: 'build-preemptible' },
    ],
    expect: { phases: { t1: 'Running', t2: 'Running', bp: 'Pending' }, binds: 0, evictions: 0 },
  },
  {
    name: 'preempt shrinks a lower-priority elastic workload before evicting anyone',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 't', project: 'p', running: [{ node: 'n1', boundAtMs: START_MS - HOUR / 2 }] },
      {
        name: 'dist',
        project: 'p',
        type: 'distributed',
        minMember: 1,
        maxMember: 3,
        running: [
          { node: 'n1', boundAtMs: START_MS - 3 * HOUR },
          { node: 'n1', boundAtMs: START_MS - 2 * HOUR },
          { node: 'n1', boundAtMs: START_MS - 2 * HOUR },
        ],
      },
      { name: 'ws', project: 'p', type: 'workspace' },
    ],
    expect: { phases: { ws: 'Running', t: 'Running', dist: 'Running' }, pods: { dist: 2 }, evictions: 1 },
    check: (r) => expect(r.evictions[0]?.group).toBe('p/dist'),
  },
  {
    name: 'minRuntime protects a fresh pod from preemption until it has run long enough',
    nodes: [{ name: 'n1', gpus: 1 }],
    projects: [{ name: 'p', deserved: 1 }],
    workloads: [
      { name: 't', project: 'p', minRuntimeMs: 25_000, running: [{ node: 'n1', boundAtMs: START_MS }] },
      { name: 'ws', project: 'p', type: 'workspace' },
    ],
    cycles: 4,
    expect: { phases: { t: 'Pending', ws: 'Running' }, evictions: 1, binds: 1 },
    check: (r) => {
      // Cycles run at +0 s, +10 s, +20 s (protected) and +30 s (25 s have passed).
      expect(r.plans.map((p) => p.evictions.length)).toEqual([0, 0, 0, 1]);
    },
  },
  {
    name: 'victims go lowest priority first, then youngest',
    nodes: [
      { name: 'n1', gpus: 1 },
      { name: 'n2', gpus: 1 },
      { name: 'n3', gpus: 1 },
      { name: 'n4', gpus: 1 },
    ],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 't-old', project: 'p', running: [{ node: 'n1', boundAtMs: START_MS - 3 * HOUR }] },
      { name: 't-young', project: 'p', running: [{ node: 'n2', boundAtMs: START_MS - HOUR }] },
      {
        name: 'bp',
        project: 'p',
        type: 'build-preemptible',
        running: [{ node: 'n3', boundAtMs: START_MS - HOUR / 2 }],
      },
      { name: 't-mid', project: 'p', running: [{ node: 'n4', boundAtMs: START_MS - 2 * HOUR }] },
      { name: 'ws', project: 'p', type: 'workspace' },
    ],
    expect: {
      phases: { ws: 'Running', 't-young': 'Pending', 't-old': 'Running', 't-mid': 'Running', bp: 'Running' },
      evictions: 1,
    },
  },
  {
    name: 'a higher-priority victim is spared when lower-priority ones make room',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 't1', project: 'p', running: ['n1'] },
      { name: 't2', project: 'p', running: ['n1'] },
      { name: 'bp', project: 'p', type: 'build-preemptible', gpus: 2, running: ['n2'] },
      { name: 'ws', project: 'p', type: 'workspace', gpus: 2 },
    ],
    expect: { phases: { ws: 'Running', bp: 'Running', t1: 'Pending', t2: 'Pending' }, evictions: 2 },
  },
  {
    name: 'preempt evicts only the victims the job needs, not every one it tried',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 'big', project: 'p', gpus: 4, running: [{ node: 'n1', boundAtMs: START_MS - 2 * HOUR }] },
      // Youngest, so tried first, but it holds no GPU: evicting it makes no room.
      { name: 'cpu-only', project: 'p', gpus: 0, running: [{ node: 'n1', boundAtMs: START_MS - HOUR }] },
      { name: 'ws', project: 'p', type: 'workspace', gpus: 2 },
    ],
    expect: { phases: { ws: 'Running', 'cpu-only': 'Running', big: 'Pending' }, evictions: 1, binds: 1 },
  },
  {
    name: "a gang member's eviction evicts the whole gang",
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 'g', project: 'p', type: 'distributed', minMember: 2, running: ['n1', 'n1'] },
      { name: 'bp1', project: 'p', type: 'build-preemptible', running: ['n2'] },
      { name: 'bp2', project: 'p', type: 'build-preemptible', running: ['n2'] },
      { name: 'ws', project: 'p', type: 'workspace' },
    ],
    expect: {
      phases: { g: 'Pending', ws: 'Running', bp1: 'Running', bp2: 'Running' },
      pods: { g: 0 },
      evictionsByAction: { preempt: 2 },
      bindsByAction: { preempt: 1 },
      pending: { g: 'gang needs 2 pods, 1 fit' },
    },
    check: (r) => expect(r.plans[0]?.phaseChanges.map((c) => c.group)).toEqual(['p/g']),
  },

  // ----- elastic --------------------------------------------------------------------------------
  {
    name: 'elastic workloads grow into capacity left idle after pending gangs had their turn',
    nodes: [{ name: 'n1', gpus: 8 }],
    projects: [
      { name: 'p', deserved: 2 },
      { name: 'q', deserved: 2 },
    ],
    workloads: [
      { name: 'dist', project: 'p', type: 'distributed', minMember: 2, maxMember: 6 },
      { name: 'big', project: 'q', gpus: 2 },
    ],
    expect: {
      phases: { dist: 'Running', big: 'Running' },
      pods: { dist: 6 },
      bindsByAction: { allocate: 3, elastic: 4 },
      evictions: 0,
    },
  },

  // ----- consolidate ----------------------------------------------------------------------------
  {
    name: 'consolidate moves a preemptible pod so a pending 2-GPU pod fits (binpack)',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    pools: { default: 'binpack' },
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 'x', project: 'p', running: ['n1'] },
      { name: 'y', project: 'p', running: ['n2'] },
      { name: 'w', project: 'p', gpus: 2 },
    ],
    expect: {
      phases: { x: 'Running', y: 'Running', w: 'Running' },
      bindsByAction: { consolidate: 2 },
      evictionsByAction: { consolidate: 1 },
      binds: 2,
      evictions: 1,
    },
    check: (r) => {
      const w = r.pods('w')[0]?.node;
      expect(r.pods('x')[0]?.node).not.toBe(w);
      expect(r.pods('y')[0]?.node).not.toBe(w);
      expect(r.plans[0]?.phaseChanges).toEqual([]);
    },
  },
  {
    name: 'consolidate never moves pods so that a project passes its limit',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    projects: [{ name: 'p', quotas: { default: { deserved: 4, limit: 3 } } }],
    workloads: [
      { name: 'x', project: 'p', running: ['n1'] },
      { name: 'y', project: 'p', running: ['n2'] },
      // 2 + 2 GPUs would pass the limit of 3 once the moved pod is placed again.
      { name: 'w', project: 'p', gpus: 2 },
    ],
    expect: { phases: { x: 'Running', y: 'Running', w: 'Pending' }, binds: 0, evictions: 0 },
  },
  {
    name: 'consolidate leaves spread pools alone',
    nodes: [
      { name: 'n1', gpus: 2 },
      { name: 'n2', gpus: 2 },
    ],
    pools: { default: 'spread' },
    projects: [{ name: 'p', deserved: 4 }],
    workloads: [
      { name: 'x', project: 'p', running: ['n1'] },
      { name: 'y', project: 'p', running: ['n2'] },
      { name: 'w', project: 'p', gpus: 2 },
    ],
    expect: { phases: { x: 'Running', y: 'Running', w: 'Pending' }, binds: 0, evictions: 0 },
  },

  // ----- stale gang -----------------------------------------------------------------------------
  {
    name: 'stale-gang evicts a gang below minMember past the grace period, and not before',
    nodes: [
      { name: 'n1', gpus: 1 },
      { name: 'n2', gpus: 1 },
    ],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [{ name: 'g', project: 'p', type: 'distributed', minMember: 2, running: ['n1', 'n2'] }],
    events: [{ beforeCycle: 0, event: { kind: 'node-lost', node: 'n2' } }],
    config: { staleGangGraceMs: 25_000 },
    cycles: 4,
    expect: {
      phases: { g: 'Pending' },
      pods: { g: 0 },
      evictionsByAction: { 'stale-gang': 1 },
      binds: 0,
      pending: { g: 'gang needs 2 pods, 1 fit' },
    },
    check: (r) => {
      expect(r.plans.map((p) => p.evictions.length)).toEqual([0, 0, 0, 1]);
      expect(r.plans[3]?.phaseChanges.map((c) => c.group)).toEqual(['p/g']);
    },
  },

  {
    name: 'a gang that lost a member is completed only in its own pool, never across pools',
    nodes: [
      { name: 'na1', pool: 'a', gpus: 1 },
      { name: 'na2', pool: 'a', gpus: 1 },
      { name: 'nb1', pool: 'b', gpus: 2 },
    ],
    projects: [{ name: 'p', quotas: { a: { deserved: 2 }, b: { deserved: 2 } } }],
    workloads: [
      {
        name: 'g',
        project: 'p',
        type: 'distributed',
        minMember: 2,
        pools: ['a', 'b'],
        running: ['na1', 'na2'],
      },
    ],
    events: [{ beforeCycle: 0, event: { kind: 'node-lost', node: 'na2' } }],
    config: { staleGangGraceMs: 25_000 },
    cycles: 5,
    // Short in pool a until the grace runs out, then evicted whole and placed whole in pool b.
    expect: {
      phases: { g: 'Running' },
      pods: { g: 2 },
      evictionsByAction: { 'stale-gang': 1 },
      bindsByAction: { allocate: 2 },
    },
    check: (r) => {
      expect(r.plans.map((p) => p.binds.length)).toEqual([0, 0, 0, 0, 2]);
      expect(r.pods('g').map((p) => p.node)).toEqual(['nb1', 'nb1']);
    },
  },

  // ----- placement filters ----------------------------------------------------------------------
  {
    name: 'a workload falls back to its second node pool when the first is full',
    nodes: [
      { name: 'na', pool: 'a', gpus: 2 },
      { name: 'nb', pool: 'b', gpus: 2 },
    ],
    projects: [{ name: 'p', quotas: { a: { deserved: 2 }, b: { deserved: 2 } } }],
    workloads: [
      { name: 'occ', project: 'p', gpus: 2, pools: ['a'], running: ['na'] },
      { name: 'w', project: 'p', pools: ['a', 'b'] },
    ],
    expect: { phases: { occ: 'Running', w: 'Running' }, binds: 1, evictions: 0 },
    check: (r) => expect(r.pods('w')[0]?.node).toBe('nb'),
  },
  {
    name: 'node type and GPU model filters pick matching nodes only',
    nodes: [
      { name: 'n-dgx', gpus: '4xH100x81920', nodeType: 'dgx' },
      { name: 'n-std', gpus: '4xA100x40960', nodeType: 'std' },
    ],
    projects: [{ name: 'p', deserved: 8 }],
    workloads: [
      { name: 'w-dgx', project: 'p', nodeTypes: ['dgx'] },
      { name: 'w-a100', project: 'p', gpuModels: ['A100'] },
      { name: 'w-v100', project: 'p', gpuModels: ['V100'] },
      { name: 'w-std-h100', project: 'p', nodeTypes: ['std'], gpuModels: ['H100'] },
    ],
    expect: {
      phases: { 'w-dgx': 'Running', 'w-a100': 'Running', 'w-v100': 'Pending', 'w-std-h100': 'Pending' },
      binds: 2,
      evictions: 0,
    },
    check: (r) => {
      expect(r.pods('w-dgx')[0]?.node).toBe('n-dgx');
      expect(r.pods('w-a100')[0]?.node).toBe('n-std');
    },
  },
  {
    name: 'a cordoned node gets nothing new and keeps what runs there',
    nodes: [
      { name: 'n1', gpus: 8, schedulable: false },
      { name: 'n2', gpus: 2 },
    ],
    projects: [{ name: 'p', deserved: 10 }],
    workloads: [{ name: 'old', project: 'p', running: ['n1'] }, ...many('t', 'p', 3)],
    expect: { phases: { old: 'Running' }, binds: 2, evictions: 0 },
    check: (r) => {
      for (const b of r.binds) expect(b.node).toBe('n2');
      expect(['t1', 't2', 't3'].filter((w) => r.phase(w) === 'Pending')).toHaveLength(1);
    },
  },
  {
    name: 'an unhealthy GPU is never used, whole or shared',
    nodes: [{ name: 'n1', gpus: 2, unhealthy: [0] }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 'w', project: 'p' },
      { name: 'f', project: 'p', fraction: 0.5 },
      { name: 'w2', project: 'p', gpus: 2 },
    ],
    expect: { phases: { w: 'Running', f: 'Pending', w2: 'Pending' }, binds: 1, evictions: 0 },
    check: (r) => expect(r.pods('w')[0]?.grants[0]?.uuid).toBe(gpuUuid('n1', 1)),
  },

  // ----- fair share -----------------------------------------------------------------------------
  {
    name: 'hierarchical fair share: each department gets its half, however many projects it has',
    nodes: [{ name: 'n1', gpus: 6 }],
    departments: [
      { name: 'd1', quotas: { default: { deserved: 0 } } },
      { name: 'd2', quotas: { default: { deserved: 0 } } },
    ],
    projects: [
      { name: 'a1', department: 'd1', deserved: 0 },
      { name: 'a2', department: 'd1', deserved: 0 },
      { name: 'b', department: 'd2', deserved: 0 },
    ],
    workloads: [...many('a1-', 'a1', 4), ...many('a2-', 'a2', 4), ...many('b-', 'b', 4)],
    // Flat, three projects would get 2 GPUs each; by department, b alone gets d2's 3.
    expect: { binds: 6, evictions: 0 },
    check: (r) => {
      const held = (prefix: string) =>
        r.world.groups.filter((g) => g.name.startsWith(prefix)).reduce((n, g) => n + g.pods.length, 0);
      expect(held('b-')).toBe(3);
      expect(held('a1-') + held('a2-')).toBe(3);
      expect(held('a1-')).toBeGreaterThanOrEqual(1);
      expect(held('a2-')).toBeGreaterThanOrEqual(1);
    },
  },
  {
    name: 'with no past usage, equal weights split spare capacity evenly',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 0 },
      { name: 'b', deserved: 0 },
    ],
    workloads: [...many('a', 'a', 4), ...many('b', 'b', 4)],
    expect: { binds: 4, evictions: 0 },
    check: (r) => {
      const held = (p: string) =>
        r.world.groups.filter((g) => g.queue === p).reduce((n, g) => n + g.pods.length, 0);
      expect([held('a'), held('b')]).toEqual([2, 2]);
    },
  },
  {
    name: 'decayed past usage bends who gets spare capacity',
    nodes: [{ name: 'n1', gpus: 4 }],
    projects: [
      { name: 'a', deserved: 0 },
      { name: 'b', deserved: 0 },
    ],
    workloads: [...many('a', 'a', 4), ...many('b', 'b', 4)],
    // a used everything lately: its weight bends to 0.5, b's to 1.5, so a's share is 1 GPU of 4.
    config: { usage: { a: { default: 1000 }, b: { default: 0 } }, usageWeight: 1 },
    expect: { binds: 4, evictions: 0 },
    check: (r) => {
      const held = (p: string) =>
        r.world.groups.filter((g) => g.queue === p).reduce((n, g) => n + g.pods.length, 0);
      expect([held('a'), held('b')]).toEqual([1, 3]);
    },
  },

  // ----- events ---------------------------------------------------------------------------------
  {
    name: 'a completed workload frees its GPUs for the next in line',
    nodes: [{ name: 'n1', gpus: 2 }],
    projects: [{ name: 'p', deserved: 2 }],
    workloads: [
      { name: 'w1', project: 'p', gpus: 2, running: ['n1'] },
      { name: 'w2', project: 'p', gpus: 2 },
    ],
    events: [{ beforeCycle: 1, event: { kind: 'complete', workload: 'w1' } }],
    expect: { phases: { w2: 'Running' }, binds: 1, evictions: 0 },
    check: (r) => expect(r.plans.map((p) => p.binds.length)).toEqual([0, 1, 0]),
  },
];

describe('scheduler scenarios', () => {
  it('has at least 25 scenarios with unique names', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(25);
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
  });
  for (const s of SCENARIOS) it(s.name, () => void checkScenario(s));
});
