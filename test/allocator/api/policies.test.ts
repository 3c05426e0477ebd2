import { describe, expect, it } from 'vitest';
import { seedOrg, testApi, trainingSpec } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

describe('policies and rules API', () => {
  it('PUT, GET, list and DELETE a policy per scope and type', async () => {
    const api = testApi();
    await seedOrg(api);
    const body = {
      defaults: { 'resources.gpuFraction': 0.25 },
      rules: { 'resources.gpuFraction': { max: 0.5 } },
    };
    const put = await api.call('PUT', '/api/v1/policies/cluster/training', body);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ scope: 'cluster', type: 'training', ...body });
    expect((await api.call('GET', '/api/v1/policies/cluster/training')).body).toMatchObject(body);
    expect((await api.call('GET', '/api/v1/policies')).body).toHaveLength(1);
    expect((await api.call('DELETE', '/api/v1/policies/cluster/training')).status).toBe(200);
    const gone = await api.call('GET', '/api/v1/policies/cluster/training');
    expect(gone.status).toBe(404);
    expect((await api.call('DELETE', '/api/v1/policies/cluster/training')).status).toBe(404);
  });

  it('answers 400 for a bad scope, type or body and 404 for an unknown project scope', async () => {
    const api = testApi();
    await seedOrg(api);
    expect((await api.call('PUT', '/api/v1/policies/galaxy/training', {})).status).toBe(400);
    expect((await api.call('PUT', '/api/v1/policies/cluster/batch', {})).status).toBe(400);
    const unknown = await api.call('PUT', '/api/v1/policies/cluster/training', {
      rules: { gpus: { max: 1 } },
    });
    expect(unknown.status).toBe(400);
    expect((unknown.body as ErrorBody).error.field).toBe('rules.gpus');
    expect((await api.call('PUT', '/api/v1/policies/project:nope/training', {})).status).toBe(404);
  });

  it('refuses a lower scope loosening a higher one with 422 naming the field and the scope', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('PUT', '/api/v1/policies/department:research/training', {
      rules: { 'resources.memory': { max: '16GiB' } },
    });
    const r = await api.call('PUT', '/api/v1/policies/project:vision/training', {
      rules: { 'resources.memory': { max: '32GiB' } },
    });
    expect(r.status).toBe(422);
    const e = (r.body as ErrorBody).error;
    expect(e).toMatchObject({ code: 'TESSERA_E_POLICY_VIOLATION', field: 'resources.memory' });
    expect(e.message).toContain('project:vision');
    expect(e.message).toContain('department:research');
    const rules = await api.call('PUT', '/api/v1/rules/cluster/training', { maxRuntimeSeconds: 3600 });
    expect(rules.status).toBe(200);
    const looser = await api.call('PUT', '/api/v1/rules/project:vision/training', {
      maxRuntimeSeconds: 7200,
    });
    expect(looser.status).toBe(422);
    expect((looser.body as ErrorBody).error.message).toContain('set by cluster');
  });

  it('fills defaults at submission and answers the effective policy of a project', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('PUT', '/api/v1/policies/cluster/training', {
      defaults: { 'env.TEAM': 'ml', 'resources.gpuFraction': 0.25 },
    });
    await api.call('PUT', '/api/v1/policies/project:vision/training', {
      defaults: { priorityClass: 'build' },
    });
    await api.call('PUT', '/api/v1/rules/department:research/training', { nodeTypes: ['dgx', 'hgx'] });
    const spec = trainingSpec('resnet');
    delete (spec.resources as Record<string, unknown>).gpuFraction;
    const r = await api.call('POST', '/api/v1/workloads', spec);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      env: { TEAM: 'ml' },
      priorityClass: 'build',
      nodeTypes: ['dgx', 'hgx'],
      resources: { gpu: { kind: 'fraction', milli: 250 } },
    });
    const eff = await api.call('GET', '/api/v1/policies/effective?project=vision&type=training');
    expect(eff.body).toMatchObject({
      chain: ['cluster', 'department:research', 'project:vision'],
      effective: { defaults: { priorityClass: { value: 'build', scope: 'project:vision' } } },
    });
    const rules = await api.call('GET', '/api/v1/rules/effective?project=vision&type=training');
    expect(rules.body).toMatchObject({
      effective: { nodeTypes: { value: ['dgx', 'hgx'], scope: 'department:research' } },
    });
  });

  it("defaults a type's disconnect policy and restricts it to the options a scope allows", async () => {
    const api = testApi();
    await seedOrg(api);
    const bad = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('bad'),
      disconnectPolicy: 'reschedule:1s',
    });
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.message).toMatch(
      /^disconnectPolicy: 1s is shorter than 10s; accepted: 'keep'/,
    );
    await api.call('PUT', '/api/v1/policies/cluster/training', {
      defaults: { disconnectPolicy: 'reschedule:5m' },
      rules: { disconnectPolicy: { options: ['keep', 'reschedule:5m'] } },
    });
    const r = await api.call('POST', '/api/v1/workloads', trainingSpec('resnet'));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      disconnect: { kind: 'reschedule', afterMs: 300_000 },
      disconnectPolicy: 'reschedule:5m',
    });
    const kept = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('kept'),
      disconnectPolicy: 'keep',
    });
    expect(kept.status).toBe(201);
    expect(kept.body).toMatchObject({ disconnect: { kind: 'keep' } });
    const off = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('other'),
      disconnectPolicy: 'reschedule:1m',
    });
    expect(off.status).toBe(422);
    expect((off.body as ErrorBody).error.field).toBe('disconnectPolicy');
  });

  it('refuses a violating submission with 422 naming field, rule and scope, storing nothing', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('PUT', '/api/v1/policies/department:research/training', {
      rules: { 'resources.gpuFraction': { max: '250m' } },
    });
    const r = await api.call('POST', '/api/v1/workloads', trainingSpec('big'));
    expect(r.status).toBe(422);
    const e = (r.body as ErrorBody).error;
    expect(e.field).toBe('resources.gpuFraction');
    expect(e.message).toBe(
      'resources.gpuFraction: 0.5 is above the maximum (rule max 250m set by policy department:research)',
    );
    await api.call('PUT', '/api/v1/rules/cluster/training', { nodeTypes: ['dgx'] });
    const off = await api.call('POST', '/api/v1/workloads', {
      ...trainingSpec('x'),
      resources: {},
      nodeTypes: ['cpu'],
    });
    expect(off.status).toBe(422);
    expect((off.body as ErrorBody).error.field).toBe('nodeTypes');
    expect((await api.call('GET', '/api/v1/workloads')).body).toEqual([]);
  });

  it('dryRun answers the spec after policies without storing it', async () => {
    const api = testApi();
    await seedOrg(api);
    await api.call('PUT', '/api/v1/policies/cluster/training', { defaults: { 'resources.memory': '4GiB' } });
    const spec = trainingSpec('resnet');
    delete (spec.resources as Record<string, unknown>).memoryMiB;
    const r = await api.call('POST', '/api/v1/workloads?dryRun=true', spec);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'resnet', resources: { memoryMiB: 4096 } });
    expect((await api.call('GET', '/api/v1/workloads')).body).toEqual([]);
    expect(api.changes).not.toContain('workload-submitted');
    const missing = await api.call('POST', '/api/v1/workloads?dryRun=true', trainingSpec('x', 'nope'));
    expect(missing.status).toBe(404);
  });
});
