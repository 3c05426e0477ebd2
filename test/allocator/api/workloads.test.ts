import { describe, expect, it } from 'vitest';
import { changePhase } from '../../../allocator/store/workloads.ts';
import { seedOrg, T0, testApi, trainingSpec } from './helpers.ts';

type Workload = { id: string; name: string; phase: string; phaseReason: string; pods: unknown[] } & Record<
  string,
  unknown
>;
type ErrorBody = { error: { code: string; message: string; field?: string } };

describe('workloads API', () => {
  it('submit answers 201 with the workload as read: id, phase, createdAt, pods and the spec', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('POST', '/api/v1/workloads', trainingSpec('resnet'));
    expect(r.status).toBe(201);
    const w = r.body as Workload;
    expect(w).toMatchObject({
      name: 'resnet',
      project: 'vision',
      type: 'training',
      priorityClass: 'train',
      command: ['python', 'train.py'],
      env: {},
      nodePools: ['default'],
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 1,
      phase: 'Pending',
      phaseReason: 'Queued',
      createdAt: new Date(T0).toISOString(),
      pods: [],
    });
    expect(w.resources).toMatchObject({ cpuMillis: 2000, memoryMiB: 8192 });
    expect(typeof w.id).toBe('string');
    expect(api.changes).toContain('workload-submitted');
    const got = await api.call('GET', `/api/v1/workloads/${w.id}`);
    expect(got).toEqual({ status: 200, body: w });
  });

  it('an invalid spec is a 400 naming the field', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('POST', '/api/v1/workloads', { ...trainingSpec('x'), replicas: 0 });
    expect(r.status).toBe(400);
    const e = (r.body as ErrorBody).error;
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.field).toBe('replicas');
    expect(e.message).toContain('replicas');
    expect(api.changes).not.toContain('workload-submitted');
  });

  it('a 70,000-character command argument is a 400 naming the argument, and nothing is stored', async () => {
    const api = testApi();
    await seedOrg(api);
    const spec = { ...trainingSpec('big'), command: ['python', 'train.py', '--data', 'x'.repeat(70_000)] };
    const r = await api.call('POST', '/api/v1/workloads', spec);
    expect(r.status).toBe(400);
    const e = (r.body as ErrorBody).error;
    expect(e).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field: 'command.3' });
    expect(e.message).toMatch(/^command\.3: longer than 65536 characters/);
    expect((await api.call('GET', '/api/v1/workloads')).body).toEqual([]);
  });

  it('a spec over 256 KiB of JSON is a 400 naming the spec, its size and the limit', async () => {
    const api = testApi();
    await seedOrg(api);
    const args = Array.from({ length: 6 }, () => 'x'.repeat(60_000));
    const r = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('big'),
      command: ['python', ...args],
    });
    expect(r.status).toBe(400);
    const e = (r.body as ErrorBody).error;
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.message).toMatch(/^workload spec: \d+ bytes as JSON, over the limit of 262144 \(256 KiB\)/);
  });

  it('a body over the 1 MiB body limit is a 400 saying both limits', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('big'),
      command: ['python', 'x'.repeat(1024 * 1024)],
    });
    expect(r.status).toBe(400);
    expect((r.body as ErrorBody).error.message).toContain('1 MiB; a workload spec may be at most 256 KiB');
  });

  it('a spec in an unknown project is a 404', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('POST', '/api/v1/workloads', trainingSpec('x', 'nope'));
    expect(r.status).toBe(404);
    expect((r.body as ErrorBody).error.code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('a second workload of the same name in a project is a 409', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('POST', '/api/v1/workloads', trainingSpec('a'));
    const r = await api.call('POST', '/api/v1/workloads', trainingSpec('a'));
    expect(r.status).toBe(409);
  });

  it('list filters by project, type and phase', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('POST', '/api/v1/projects', { name: 'nlp', department: 'research' });
    await api.call('POST', '/api/v1/workloads', trainingSpec('a'));
    await api.call('POST', '/api/v1/workloads', trainingSpec('b', 'nlp'));
    const inf = await api.call('POST', '/api/v1/workloads', {
      name: 'serve',
      project: 'vision',
      type: 'inference',
      command: ['serve'],
    });
    await api.call('POST', `/api/v1/workloads/${(inf.body as Workload).id}/stop`);
    const names = async (q: string) =>
      ((await api.call('GET', `/api/v1/workloads${q}`)).body as Workload[]).map((w) => w.name);
    expect(await names('')).toEqual(['a', 'b', 'serve']);
    expect(await names('?project=vision')).toEqual(['a', 'serve']);
    expect(await names('?type=inference')).toEqual(['serve']);
    expect(await names('?phase=Pending')).toEqual(['a', 'b']);
    expect(await names('?phase=Pending,Stopped&project=vision')).toEqual(['a', 'serve']);
    const bad = await api.call('GET', '/api/v1/workloads?phase=Sleeping');
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.field).toBe('phase.0');
    const unknown = await api.call('GET', '/api/v1/workloads?colour=red');
    expect((unknown.body as ErrorBody).error.field).toBe('colour');
  });

  it('stop, run and delete move through the phase machine and leave their events', async () => {
    const api = testApi();
    await seedOrg(api);
    const id = ((await api.call('POST', '/api/v1/workloads', trainingSpec('a'))).body as Workload).id;
    const stopped = await api.call('POST', `/api/v1/workloads/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ phase: 'Stopped', phaseReason: 'StoppedByUser' });
    const run = await api.call('POST', `/api/v1/workloads/${id}/run`);
    expect(run.body).toMatchObject({ phase: 'Pending', phaseReason: 'RunByUser' });
    const del = await api.call('DELETE', `/api/v1/workloads/${id}`);
    // No pods ever held resources, so the record is purged at once.
    expect(del).toEqual({ status: 200, body: { id, phase: 'Deleting', purged: true } });
    expect((await api.call('GET', `/api/v1/workloads/${id}`)).status).toBe(404);
    const events = (await api.call('GET', `/api/v1/workloads/${id}/events`)).body as {
      from: string;
      to: string;
    }[];
    expect(events.map((e) => `${e.from}->${e.to}`)).toEqual([
      'null->Creating',
      'Creating->Pending',
      'Pending->Stopped',
      'Stopped->Pending',
      'Pending->Deleting',
    ]);
    expect(api.changes).toEqual(
      expect.arrayContaining(['workload-submitted', 'workload-stopped', 'workload-run', 'workload-deleted']),
    );
  });

  it('stopping a Completed workload is a 409 naming the legal targets', async () => {
    const api = testApi();
    await seedOrg(api);
    const id = ((await api.call('POST', '/api/v1/workloads', trainingSpec('a'))).body as Workload).id;
    for (const to of ['Initializing', 'Running', 'Completed'] as const) {
      const r = changePhase(api.db, id, to, 'test', T0);
      if (!r.ok) throw new Error(r.error.message);
    }
    const r = await api.call('POST', `/api/v1/workloads/${id}/stop`);
    expect(r.status).toBe(409);
    const e = (r.body as ErrorBody).error;
    expect(e.code).toBe('TESSERA_E_ILLEGAL_TRANSITION');
    expect(e.message).toContain('legal targets from Completed: Deleting');
    expect((await api.call('POST', `/api/v1/workloads/${id}/run`)).status).toBe(409);
  });

  it('actions on an unknown workload are 404s', async () => {
    const api = testApi();
    for (const [method, url] of [
      ['GET', '/api/v1/workloads/nope'],
      ['POST', '/api/v1/workloads/nope/stop'],
      ['POST', '/api/v1/workloads/nope/run'],
      ['DELETE', '/api/v1/workloads/nope'],
      ['GET', '/api/v1/workloads/nope/events'],
    ] as const) {
      const r = await api.call(method, url);
      expect(r.status, `${method} ${url}`).toBe(404);
      expect((r.body as ErrorBody).error.code).toBe('TESSERA_E_NOT_FOUND');
    }
  });
});
