import { describe, expect, it } from 'vitest';
import { CapacityError } from '../../../allocator/scheduler/placement/mutate.ts';
import { type GroupState, liveOf, openSession, type Session } from '../../../allocator/scheduler/session.ts';
import { Statement } from '../../../allocator/scheduler/statement.ts';
import { buildWorld, snapshotOf } from './harness.ts';

/** The session of `world()`. */
function session(): Session {
  return openSession(snapshotOf(world()));
}

/** A cluster with room left, a project with running pods and one without any. */
function world() {
  return buildWorld({
    nodes: [
      { name: 'n1', gpus: 4 },
      { name: 'n2', gpus: 2 },
    ],
    departments: [{ name: 'd', quotas: { default: { deserved: 4 } } }],
    projects: [
      { name: 'a', department: 'd', deserved: 2 },
      { name: 'b', department: 'd', deserved: 2 },
    ],
    workloads: [
      { name: 'ws', project: 'a', type: 'workspace', running: ['n1'] },
      { name: 'dist', project: 'a', type: 'distributed', minMember: 2, maxMember: 3, running: ['n1', 'n2'] },
      { name: 'half', project: 'a', fraction: 0.5, running: ['n2'] },
      { name: 'new', project: 'b', gpus: 2 },
    ],
  });
}

function group(s: Session, name: string): GroupState {
  const g = s.groups.find((x) => x.snap.name === name);
  if (!g) throw new Error(`no group ${name}`);
  return g;
}

/** Everything a statement may touch, in a comparable form (a missing accounting entry reads as zero). */
function fingerprint(s: Session) {
  const queues = [...s.queues.keys()].sort();
  const pools = ['default'];
  return {
    nodes: [...s.nodes.values()].map((n) => ({
      name: n.name,
      cpuFree: n.cpuFreeMillis,
      memFree: n.memoryFreeMiB,
      gpus: n.gpus.map((g) => [g.uuid, g.freeMilli, g.freeMemoryMiB]),
    })),
    allocated: queues.flatMap((q) => pools.map((p) => [q, p, liveOf(s.allocated, q, p)])),
    nonPreemptible: queues.flatMap((q) => pools.map((p) => [q, p, liveOf(s.allocatedNonPreemptible, q, p)])),
    shares: queues.flatMap((q) => pools.map((p) => [q, p, s.shares.get(q)?.get(p)?.allocated])),
    groups: s.groups.map((g) => ({
      id: g.snap.id,
      nextOrdinal: g.nextOrdinal,
      pods: g.pods.map((p) => [p.name, p.node, p.grants.map((x) => x.uuid).join(',')]),
    })),
    podsByNode: [...s.nodes.keys()].map((n) => [
      n,
      [...(s.podsByNode.get(n) ?? [])].map((p) => p.name).sort(),
    ]),
  };
}

describe('statement', () => {
  it('rollback restores node capacity, queue accounting and pod lists exactly', () => {
    const s = session();
    const stmt = new Statement(s);
    const before = fingerprint(s);
    const firstChoice = s.placer.place('default', group(s, 'new').req, 'binpack');

    const mark = stmt.checkpoint();
    const place = s.placer.place('default', group(s, 'new').req, 'binpack');
    if (!place) throw new Error('expected room for the new pod');
    stmt.bind(group(s, 'new'), place.node, place.gpus, 'allocate');
    // Evict pods from the middle of group lists, so rollback must put them back where they were.
    const dist = group(s, 'dist');
    const distFirst = dist.pods[0];
    if (!distFirst) throw new Error('dist has pods');
    stmt.evict(distFirst, 'reclaim', 'test');
    const half = group(s, 'half').pods[0];
    if (!half) throw new Error('half has a pod');
    stmt.evict(half, 'reclaim', 'test');
    expect(fingerprint(s)).not.toEqual(before);
    expect(liveOf(s.allocated, 'b', 'default').gpuMilli).toBe(2000);
    expect(liveOf(s.allocated, 'd', 'default').gpuMilli).toBe(1000 + 2000 + 500 + 2000 - 1000 - 500);

    stmt.rollback(mark);
    expect(fingerprint(s)).toEqual(before);
    // The placer's indexes were kept in step: the same request lands where it did before the try.
    const again = s.placer.place('default', group(s, 'new').req, 'binpack');
    expect(again?.node.name).toBe(firstChoice?.node.name);
    expect(again?.gpus).toEqual(firstChoice?.gpus);
    expect(stmt.commit()).toEqual({ binds: [], evictions: [] });
  });

  it('nested checkpoints roll back only what came after them', () => {
    const s = session();
    const stmt = new Statement(s);
    const ws = group(s, 'ws').pods[0];
    if (!ws) throw new Error('ws has a pod');
    stmt.evict(ws, 'preempt', 'outer');
    const afterOuter = fingerprint(s);
    const inner = stmt.checkpoint();
    const place = s.placer.place('default', group(s, 'new').req, 'binpack');
    if (!place) throw new Error('expected room');
    stmt.bind(group(s, 'new'), place.node, place.gpus, 'allocate');
    expect(stmt.evictedSince(0).map((g) => g.snap.name)).toEqual(['ws']);
    expect(stmt.evictedSince(inner)).toEqual([]);
    stmt.rollback(inner);
    expect(fingerprint(s)).toEqual(afterOuter);
    const { binds, evictions } = stmt.commit();
    expect(binds).toEqual([]);
    expect(evictions.map((e) => [e.pod, e.action, e.reason])).toEqual([['ws-0', 'preempt', 'outer']]);
  });

  it('a rolled-back bind gives its pod name back, so a retry names pods the same', () => {
    const s = session();
    const stmt = new Statement(s);
    const g = group(s, 'new');
    const place = s.placer.place('default', g.req, 'binpack');
    if (!place) throw new Error('expected room');
    const mark = stmt.checkpoint();
    const first = stmt.bind(g, place.node, place.gpus, 'allocate');
    stmt.rollback(mark);
    const second = stmt.bind(g, place.node, place.gpus, 'allocate');
    expect(second.name).toBe(first.name);
  });

  it('commit folds a bind and an evict of the same new pod into nothing', () => {
    const s = session();
    const stmt = new Statement(s);
    const g = group(s, 'new');
    const place = s.placer.place('default', g.req, 'binpack');
    if (!place) throw new Error('expected room');
    const pod = stmt.bind(g, place.node, place.gpus, 'allocate');
    stmt.evict(pod, 'consolidate', 'moved');
    const again = s.placer.place('default', g.req, 'binpack');
    if (!again) throw new Error('expected room');
    const kept = stmt.bind(g, again.node, again.gpus, 'consolidate');
    const half = group(s, 'half').pods[0];
    if (!half) throw new Error('half has a pod');
    stmt.evict(half, 'consolidate', 'moved');
    const { binds, evictions } = stmt.commit();
    expect(binds.map((b) => [b.pod, b.action])).toEqual([[kept.name, 'consolidate']]);
    expect(binds[0]?.grants).toEqual(kept.grants);
    expect(evictions.map((e) => e.pod)).toEqual(['half-0']);
    expect(evictions.some((e) => e.pod === pod.name)).toBe(false);
  });

  it('a bind the node cannot hold throws a CapacityError naming node and GPU, and changes nothing', () => {
    const s = session();
    const stmt = new Statement(s);
    const before = fingerprint(s);
    const n1 = s.nodes.get('n1');
    const busy = group(s, 'ws').pods[0]?.grants[0];
    const gpu = n1?.gpus.find((g) => g.uuid === busy?.uuid);
    if (!n1 || !gpu) throw new Error('ws runs on an n1 GPU');
    const take = [{ index: gpu.index, gpuMilli: 1000, memoryMiB: gpu.memoryMiB }];
    let thrown: unknown;
    try {
      stmt.bind(group(s, 'new'), n1, take, 'allocate');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CapacityError);
    expect(thrown).toMatchObject({ node: 'n1', gpu: gpu.index });
    expect(String(thrown)).toMatch(/over-commit it \(needs 1000 milli and \d+ MiB, 0 and 0 free\)/);
    expect(fingerprint(s)).toEqual(before);
    expect(stmt.size).toBe(0);
  });

  it('an eviction rolled back on a node that came back smaller restores its books as the snapshot had them', () => {
    // n2 now reports less CPU than its running pods hold: the session charges them anyway.
    const w = world();
    const snap = snapshotOf({
      ...w,
      nodes: w.nodes.map((n) => (n.name === 'n2' ? { ...n, cpuMillis: 1000 } : n)),
    });
    const s = openSession(snap);
    expect(s.nodes.get('n2')?.cpuFreeMillis).toBe(1000 - 2000);
    const stmt = new Statement(s);
    const before = fingerprint(s);
    const mark = stmt.checkpoint();
    const half = group(s, 'half').pods[0];
    if (!half) throw new Error('half has a pod');
    stmt.evict(half, 'reclaim', 'test');
    expect(s.nodes.get('n2')?.cpuFreeMillis).toBe(1000 - 1000);
    stmt.rollback(mark);
    expect(fingerprint(s)).toEqual(before);
  });
});
