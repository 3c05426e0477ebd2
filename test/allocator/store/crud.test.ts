import { expect, it } from 'vitest';
import { listEvents } from '../../../allocator/store/events.ts';
import {
  deleteNode,
  getNode,
  listNodes,
  markLostNodes,
  setCordoned,
  upsertNode,
} from '../../../allocator/store/nodes.ts';
import {
  createDepartment,
  createProject,
  deletePool,
  deleteQueue,
  getPool,
  getQueue,
  listPools,
  listQueues,
  listQuotas,
  putPool,
  setQuota,
} from '../../../allocator/store/org.ts';
import {
  changePhase,
  findWorkload,
  getWorkload,
  listWorkloads,
  purgeWorkload,
  submitWorkload,
} from '../../../allocator/store/workloads.ts';
import { describeBackends, gpus, must, openTemp, smallOrg, T0, training } from './helpers.ts';

describeBackends('organisation', () => {
  it('creates, lists and deletes departments and projects in creation order', () => {
    const db = openTemp();
    smallOrg(db);
    expect(listQueues(db).map((q) => [q.name, q.parent])).toEqual([
      ['research', null],
      ['vision', 'research'],
      ['nlp', 'research'],
    ]);
    expect(getQueue(db, 'nlp')?.parent).toBe('research');
    expect(must(deleteQueue(db, 'nlp'))).toBeUndefined();
    expect(getQueue(db, 'nlp')).toBeUndefined();
    expect(listQuotas(db, 'nlp')).toEqual([]);
  });

  it('refuses duplicate queue names across departments and projects, and unknown parents', () => {
    const db = openTemp();
    smallOrg(db);
    const dup = createDepartment(db, 'vision', T0);
    expect(dup.ok || dup.error.code).toBe('TESSERA_E_CONFLICT');
    const orphan = createProject(db, 'p', 'nowhere', T0);
    expect(orphan.ok || orphan.error.code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('refuses deleting a department with projects or a project with workloads', () => {
    const db = openTemp();
    smallOrg(db);
    const dept = deleteQueue(db, 'research');
    expect(dept.ok || dept.error.code).toBe('TESSERA_E_CONFLICT');
    must(submitWorkload(db, training('w'), T0, { id: 'w1' }));
    const proj = deleteQueue(db, 'vision');
    expect(proj.ok || proj.error.code).toBe('TESSERA_E_CONFLICT');
    expect(getQueue(db, 'vision')).toBeDefined();
  });

  it('stores quotas with defaults weight 1 and limit -1, and replaces them', () => {
    const db = openTemp();
    smallOrg(db);
    expect(listQuotas(db, 'vision')).toEqual([
      {
        queue: 'vision',
        nodePool: 'default',
        deserved: { gpuMilli: 4000, cpuMillis: 0, memoryMiB: 0 },
        overQuotaWeight: 1,
        limit: { gpuMilli: -1, cpuMillis: -1, memoryMiB: -1 },
      },
    ]);
    must(setQuota(db, 'vision', 'default', { deserved: { gpuMilli: 1000 }, limit: { gpuMilli: 2000 } }));
    expect(listQuotas(db, 'vision')[0]?.limit.gpuMilli).toBe(2000);
    const missing = setQuota(db, 'ghost', 'default', {});
    expect(missing.ok || missing.error.code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('creates, updates and deletes node pools (and their quotas)', () => {
    const db = openTemp();
    smallOrg(db);
    must(setQuota(db, 'vision', 'a100', { deserved: { gpuMilli: 1000 } }));
    putPool(db, { name: 'a100', selector: { 'gpu.model': 'A100' }, placementGpu: 'binpack' }, T0 + 99);
    const pool = getPool(db, 'a100');
    expect(pool).toMatchObject({ placementGpu: 'binpack', placementCpu: 'binpack', createdMs: T0 });
    expect(listPools(db).map((p) => p.name)).toEqual(['a100']);
    expect(deletePool(db, 'a100')).toBe(true);
    expect(listQuotas(db, 'vision').map((q) => q.nodePool)).toEqual(['default']);
  });
});

describeBackends('nodes', () => {
  it('upserts inventory, cordons, marks lost after the lease and revives on report', () => {
    const db = openTemp();
    smallOrg(db);
    expect(listNodes(db).map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    expect(must(setCordoned(db, 'n1', true)).cordoned).toBe(true);
    const missing = setCordoned(db, 'ghost', true);
    expect(missing.ok || missing.error.code).toBe('TESSERA_E_NOT_FOUND');
    expect(markLostNodes(db, T0 + 40_001, 40_000)).toEqual(['n1', 'n2', 'n3']);
    expect(getNode(db, 'n2')?.lost).toBe(true);
    const back = upsertNode(
      db,
      { name: 'n2', labels: {}, gpus: gpus('n2', 2), cpuMillis: 1000, memoryMiB: 1024 },
      T0 + 50_000,
    );
    expect(back).toMatchObject({ lost: false, lastSeenMs: T0 + 50_000, cpuMillis: 1000 });
    expect(back.gpus).toHaveLength(2);
    // Cordoning is the admin's mark and survives a report.
    expect(upsertNode(db, { ...back, name: 'n1' }, T0 + 50_000).cordoned).toBe(true);
    must(deleteNode(db, 'n3'));
    expect(getNode(db, 'n3')).toBeUndefined();
  });
});

describeBackends('workloads', () => {
  it('submit stores the validated spec and goes Creating -> Pending with both events', () => {
    const db = openTemp();
    smallOrg(db);
    const w = must(submitWorkload(db, training('resnet'), T0 + 10, { id: 'w1' }));
    expect(w).toMatchObject({
      id: 'w1',
      name: 'resnet',
      project: 'vision',
      type: 'training',
      phase: 'Pending',
    });
    expect(w.spec.priority).toBe(50);
    expect(w.spec.resources.gpu).toEqual({ kind: 'devices', count: 1 });
    expect(listEvents(db, { workload: 'w1' }).map((e) => [e.from, e.to, e.reason])).toEqual([
      [null, 'Creating', 'Submitted'],
      ['Creating', 'Pending', 'Queued'],
    ]);
    expect(findWorkload(db, 'vision', 'resnet')?.id).toBe('w1');
    expect(listWorkloads(db, { project: 'nlp' })).toEqual([]);
    expect(listWorkloads(db, { phases: ['Pending'] }).map((x) => x.id)).toEqual(['w1']);
  });

  it('submit refuses an invalid spec, an unknown project and a duplicate name, writing nothing', () => {
    const db = openTemp();
    smallOrg(db);
    const bad = submitWorkload(db, { ...training('x'), replicas: 3 }, T0);
    expect(bad.ok || bad.error.code).toBe('TESSERA_E_INVALID_SPEC');
    const noProject = submitWorkload(db, training('x', 'ghost'), T0);
    expect(noProject.ok || noProject.error.code).toBe('TESSERA_E_NOT_FOUND');
    must(submitWorkload(db, training('x'), T0, { id: 'w1' }));
    const dup = submitWorkload(db, training('x'), T0, { id: 'w2' });
    expect(dup.ok || dup.error.code).toBe('TESSERA_E_CONFLICT');
    expect(listWorkloads(db).map((w) => w.id)).toEqual(['w1']);
    expect(listEvents(db)).toHaveLength(2);
  });

  it('refuses an illegal phase transition and writes nothing', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('w'), T0, { id: 'w1' }));
    const before = listEvents(db);
    const r = changePhase(db, 'w1', 'Completed', 'Done', T0 + 5);
    expect(r.ok || r.error.code).toBe('TESSERA_E_ILLEGAL_TRANSITION');
    expect(r.ok || r.error.message).toMatch(/Pending -> Completed/);
    expect(getWorkload(db, 'w1')?.phase).toBe('Pending');
    expect(listEvents(db)).toEqual(before);
  });

  it('stores a legal phase change with its event, and purges a deleted workload but keeps history', () => {
    const db = openTemp();
    smallOrg(db);
    must(submitWorkload(db, training('w'), T0, { id: 'w1' }));
    expect(must(changePhase(db, 'w1', 'Stopped', 'UserStop', T0 + 5, 'by alice')).phase).toBe('Stopped');
    expect(listEvents(db, { workload: 'w1' }).at(-1)).toMatchObject({
      timeMs: T0 + 5,
      from: 'Pending',
      to: 'Stopped',
      reason: 'UserStop',
      message: 'by alice',
    });
    const early = purgeWorkload(db, 'w1');
    expect(early.ok || early.error.code).toBe('TESSERA_E_ILLEGAL_TRANSITION');
    must(changePhase(db, 'w1', 'Deleting', 'UserDelete', T0 + 6));
    must(purgeWorkload(db, 'w1'));
    expect(getWorkload(db, 'w1')).toBeUndefined();
    expect(listEvents(db, { workload: 'w1' })).toHaveLength(4);
  });
});
