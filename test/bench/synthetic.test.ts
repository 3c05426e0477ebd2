import { describe, expect, it } from 'vitest';
import { syntheticCluster, syntheticKindOf } from '../../bench/synthetic.ts';

const small = { nodes: 20, gpusPerNode: 8, pending: 1000, projects: 6, departments: 2, seed: 11 };

describe('syntheticCluster', () => {
  it('gives the same snapshot for the same seed', () => {
    expect(JSON.stringify(syntheticCluster(small))).toBe(JSON.stringify(syntheticCluster(small)));
  });

  it('gives a different workload stream for another seed', () => {
    const a = syntheticCluster(small).groups.map((g) => syntheticKindOf(g));
    const b = syntheticCluster({ ...small, seed: 12 }).groups.map((g) => syntheticKindOf(g));
    expect(a).not.toEqual(b);
  });

  it('builds N nodes of 8 H100s with 64 cores and 512 GiB in the default binpack pool', () => {
    const s = syntheticCluster(small);
    expect(s.nodes).toHaveLength(20);
    expect(s.pools).toEqual([{ name: 'default', placement: 'binpack' }]);
    for (const n of s.nodes) {
      expect(n.pool).toBe('default');
      expect(n.gpus).toHaveLength(8);
      expect(n.cpuMillis).toBe(64_000);
      expect(n.memoryMiB).toBe(512 * 1024);
      expect(new Set(n.gpus.map((g) => g.model))).toEqual(new Set(['NVIDIA-H100-80GB-HBM3']));
    }
    expect(new Set(s.nodes.flatMap((n) => n.gpus.map((g) => g.uuid))).size).toBe(160);
  });

  it('has departments x projects with deserved quotas summing to roughly the capacity, weight 1, no limits', () => {
    const s = syntheticCluster(small);
    const depts = s.queues.filter((q) => q.parent === null);
    const projects = s.queues.filter((q) => q.parent !== null);
    expect(depts).toHaveLength(2);
    expect(projects).toHaveLength(6);
    const capacity = 20 * 8 * 1000;
    const sum = projects.reduce((t, q) => t + (q.quotas.default?.deserved.gpuMilli ?? 0), 0);
    expect(sum).toBeLessThanOrEqual(capacity);
    expect(sum).toBeGreaterThan(capacity * 0.95);
    for (const q of s.queues) {
      const quota = q.quotas.default;
      expect(quota?.overQuotaWeight).toBe(1);
      expect(quota?.limit).toEqual({ gpuMilli: -1, cpuMillis: -1, memoryMiB: -1 });
    }
    for (const d of depts) {
      const children = projects.filter((p) => p.parent === d.name);
      const deserved = children.reduce((t, q) => t + (q.quotas.default?.deserved.gpuMilli ?? 0), 0);
      expect(d.quotas.default?.deserved.gpuMilli).toBe(deserved);
    }
  });

  it('has the requested workload mix: 60% whole GPU, 30% fractions, 10% gangs of 2-8', () => {
    const s = syntheticCluster(small);
    expect(s.groups).toHaveLength(1000);
    const whole = s.groups.filter((g) => syntheticKindOf(g) === 'whole');
    const fractions = s.groups.filter((g) => syntheticKindOf(g) === 'fraction');
    const gangs = s.groups.filter((g) => syntheticKindOf(g) === 'gang');
    expect([whole.length, fractions.length, gangs.length]).toEqual([600, 300, 100]);

    for (const g of whole) {
      expect(g.request.gpu).toEqual({ kind: 'devices', count: 1 });
      expect([g.priority, g.preemptible, g.minMember, g.maxMember]).toEqual([50, true, 1, 1]);
    }
    const milli = new Set<number>();
    const priorities = new Set<number>();
    for (const g of fractions) {
      if (g.request.gpu.kind !== 'fraction') throw new Error(`${g.id} is not a fraction`);
      milli.add(g.request.gpu.milli);
      priorities.add(g.priority);
      expect(g.preemptible).toBe(g.priority < 100);
      expect([g.minMember, g.maxMember]).toEqual([1, 1]);
    }
    expect(milli).toEqual(new Set([250, 500, 750]));
    expect(priorities).toEqual(new Set([50, 100]));
    const sizes = new Set<number>();
    for (const g of gangs) {
      expect(g.request.gpu).toEqual({ kind: 'devices', count: 1 });
      expect(g.minMember).toBe(g.maxMember);
      expect(g.minMember).toBeGreaterThanOrEqual(2);
      expect(g.minMember).toBeLessThanOrEqual(8);
      expect(g.preemptible).toBe(true);
      sizes.add(g.minMember);
    }
    expect(sizes.size).toBeGreaterThan(4);
  });

  it('spreads workloads over projects round-robin, all pending, created in increasing order', () => {
    const s = syntheticCluster(small);
    const projects = s.queues.filter((q) => q.parent !== null).map((q) => q.name);
    s.groups.forEach((g, i) => {
      expect(g.queue).toBe(projects[i % projects.length]);
      expect(g.pods).toHaveLength(0);
      expect(g.nodePools).toEqual(['default']);
    });
    for (let i = 1; i < s.groups.length; i++) {
      expect(s.groups[i]?.createdAtMs).toBeGreaterThan(
        s.groups[i - 1]?.createdAtMs ?? Number.POSITIVE_INFINITY,
      );
    }
    expect(s.groups.at(-1)?.createdAtMs).toBeLessThan(s.nowMs);
  });

  it('adds an optional second pool that a share of workloads prefers', () => {
    const s = syntheticCluster({
      ...small,
      placement: 'spread',
      secondPool: { nodes: 5, placement: 'binpack' },
    });
    expect(s.pools).toEqual([
      { name: 'default', placement: 'spread' },
      { name: 'pool-b', placement: 'binpack' },
    ]);
    expect(s.nodes.filter((n) => n.pool === 'pool-b')).toHaveLength(5);
    const prefer = s.groups.filter((g) => g.nodePools[0] === 'pool-b');
    expect(prefer.length).toBeGreaterThan(150);
    expect(prefer.length).toBeLessThan(350);
    for (const g of prefer) expect(g.nodePools).toEqual(['pool-b', 'default']);
    for (const q of s.queues) expect(q.quotas['pool-b']).toBeDefined();
  });
});

describe('syntheticCluster running workloads', () => {
  it('fills the requested share of GPUs without over-committing any, and leaves the pending stream unchanged', () => {
    const plain = syntheticCluster(small);
    const s = syntheticCluster({ ...small, running: 0.5 });
    const running = s.groups.filter((g) => g.pods.length > 0);
    const pending = s.groups.filter((g) => g.pods.length === 0);
    expect(JSON.stringify(pending)).toBe(JSON.stringify(plain.groups));
    const perGpu = new Map<string, number>();
    for (const g of running) {
      expect(g.pods).toHaveLength(g.minMember);
      for (const p of g.pods)
        for (const grant of p.grants) perGpu.set(grant.uuid, (perGpu.get(grant.uuid) ?? 0) + grant.gpuMilli);
    }
    expect(perGpu.size).toBe(80);
    for (const milli of perGpu.values()) expect(milli).toBe(1000);
    expect(running.some((g) => !g.preemptible)).toBe(true);
    expect(JSON.stringify(syntheticCluster({ ...small, running: 0.5 }))).toBe(JSON.stringify(s));
  });
});
