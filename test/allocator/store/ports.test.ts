import { expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import type { Bind, Plan } from '../../../allocator/scheduler/plan.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { listPods, movePod } from '../../../allocator/store/pods.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { submitWorkload } from '../../../allocator/store/workloads.ts';
import { describeBackends, gpus, must, openTemp, smallOrg, T0 } from './helpers.ts';

const bind = (group: string, pod: string, node: string, gpu: number): Bind => ({
  group,
  pod,
  node,
  grants: [{ uuid: `GPU-${node}-${gpu}`, gpuMilli: 1000, memoryMiB: 81_920, memoryLimitMiB: 81_920 }],
  action: 'allocate',
});
const plan = (p: Partial<Plan>): Plan => ({ binds: [], evictions: [], phaseChanges: [], pending: [], ...p });

const served = (name: string, ports: string[], extra: Record<string, unknown> = {}) => ({
  name,
  project: 'vision',
  type: 'inference',
  command: ['serve'],
  resources: { gpuDevices: 1 },
  ports: ports.map((p) => ({ name: p })),
  ...extra,
});

const portsOf = (db: ReturnType<typeof openTemp>) =>
  Object.fromEntries(listPods(db).map((p) => [`${p.workload}/${p.name}@${p.node}`, p.ports]));

describeBackends('host ports at bind', () => {
  it("gives each named port the lowest port of the node's range no other pod there holds", () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, served('a', ['http', 'metrics']), T0, { id: 'wa' }));
    must(submitWorkload(db, served('b', ['http']), T0, { id: 'wb' }));
    applyPlan(db, plan({ binds: [bind('wa', 'a-0', 'n1', 0), bind('wb', 'b-0', 'n1', 1)] }), T0 + 1);
    // Another node counts its own range: the same numbers there are no collision.
    applyPlan(db, plan({ binds: [bind('wb', 'b-1', 'n2', 0)] }), T0 + 2);
    expect(portsOf(db)).toEqual({
      'wa/a-0@n1': { http: 40_000, metrics: 40_001 },
      'wb/b-0@n1': { http: 40_002 },
      'wb/b-1@n2': { http: 40_000 },
    });
  });

  it('reuses the ports of a pod that ended, and prefers ports no pod being stopped still holds', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, served('a', ['http']), T0, { id: 'wa' }));
    must(submitWorkload(db, served('b', ['http']), T0, { id: 'wb' }));
    applyPlan(db, plan({ binds: [bind('wa', 'a-0', 'n1', 0), bind('wa', 'a-1', 'n1', 1)] }), T0 + 1);
    movePod(db, 'wa', 'a-0', 'Stopping', 'evicted');
    applyPlan(db, plan({ binds: [bind('wb', 'b-0', 'n1', 2)] }), T0 + 2);
    expect(portsOf(db)['wb/b-0@n1']).toEqual({ http: 40_002 });
    movePod(db, 'wa', 'a-1', 'Failed', 'exit 1');
    applyPlan(db, plan({ binds: [bind('wb', 'b-1', 'n1', 3)] }), T0 + 3);
    expect(portsOf(db)['wb/b-1@n1']).toEqual({ http: 40_001 });
  });

  it('refuses a bind on a node that reports no port range, writing nothing', () => {
    const db = openTemp();
    smallOrg(db);
    upsertNode(db, { name: 'old', labels: {}, gpus: gpus('old', 1), cpuMillis: 8000, memoryMiB: 8000 }, T0);
    must(submitWorkload(db, served('a', ['http']), T0, { id: 'wa' }));
    expect(() => applyPlan(db, plan({ binds: [bind('wa', 'a-0', 'old', 0)] }), T0 + 1)).toThrow(
      /reports no port range/,
    );
    expect(listPods(db)).toEqual([]);
  });

  it('the scheduler counts ports as a node resource: a node with too few free does not fit, and explain says so', () => {
    const db = openTemp();
    smallOrg(db);
    // n1 and n2 have 1000 ports each; n3 (pool a100) is out of this workload's pools.
    upsertNode(
      db,
      {
        name: 'n1',
        labels: { 'gpu.model': 'H100' },
        gpus: gpus('n1', 4),
        cpuMillis: 64_000,
        memoryMiB: 512_000,
        network: { address: '10.0.0.1', portRange: { first: 40_000, last: 40_002 } },
      },
      T0,
    );
    upsertNode(
      db,
      {
        name: 'n2',
        labels: { 'gpu.model': 'H100' },
        gpus: gpus('n2', 4),
        cpuMillis: 64_000,
        memoryMiB: 512_000,
        network: null,
      },
      T0,
    );
    const cpuOnly = { resources: { cpu: '1' } };
    must(submitWorkload(db, served('a', ['http', 'grpc'], cpuOnly), T0, { id: 'wa' }));
    must(submitWorkload(db, served('b', ['http', 'grpc'], cpuOnly), T0 + 1, { id: 'wb' }));
    const first = runCycle(buildSnapshot(db, T0 + 10));
    // Two ports each, three on n1 and none on n2: one of the two fits, the other waits.
    expect(first.binds.map((b) => [b.group, b.node])).toEqual([['wa', 'n1']]);
    expect(first.pending.find((p) => p.group === 'wb')?.reason).toMatch(
      /has 2 free host ports for the pod's named ports \(most: 1 on n1\)/,
    );
    applyPlan(db, first, T0 + 10);
    expect(portsOf(db)['wa/a-0@n1']).toEqual({ http: 40_000, grpc: 40_001 });
    // Settled: later cycles bind nothing more.
    expect(runCycle(buildSnapshot(db, T0 + 20)).binds).toEqual([]);
  });
});
