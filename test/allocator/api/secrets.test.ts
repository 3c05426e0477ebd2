/** Registry secrets over the API: write-only passwords, create / replace / list / delete, RBAC, and submits that name one. */
import { afterEach, describe, expect, it } from 'vitest';
import { seedOrg, type TestApi, testApi, trainingSpec } from './helpers.ts';
import { buildWorld, type World } from './rbac-world.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

const PASSWORD = 'nvapi-very-secret-0123456789';
const login = { server: 'nvcr.io', username: '$oauthtoken', password: PASSWORD };

/** Every response body the test saw, to prove none of them carried the password. */
const seen: unknown[] = [];

async function call(api: TestApi, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const r = await api.call(method, url, body);
  seen.push(r.body);
  return r;
}

async function withSecret(): Promise<TestApi> {
  const api = testApi();
  await seedOrg(api);
  const r = await call(api, 'POST', '/api/v1/projects/vision/secrets/registry', { name: 'ngc', ...login });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return api;
}

const imageSpec = (name: string, extra: Record<string, unknown> = {}) => ({
  ...trainingSpec(name),
  image: 'nvcr.io/nvidia/pytorch:24.05-py3',
  imagePullSecret: 'ngc',
  ...extra,
});

afterEach(() => {
  expect(JSON.stringify(seen)).not.toContain(PASSWORD);
  seen.length = 0;
});

describe('registry secrets API', () => {
  it('creates a secret and answers it without the password', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await call(api, 'POST', '/api/v1/projects/vision/secrets/registry', { name: 'ngc', ...login });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      project: 'vision',
      name: 'ngc',
      type: 'registry',
      server: 'nvcr.io',
      username: '$oauthtoken',
      createdAt: '2023-11-14T22:13:20.000Z',
      updatedAt: '2023-11-14T22:13:20.000Z',
    });
  });

  it('lists names, servers, users and times, never a password', async () => {
    const api = await withSecret();
    const r = await call(api, 'GET', '/api/v1/projects/vision/secrets');
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      expect.objectContaining({ name: 'ngc', server: 'nvcr.io', username: '$oauthtoken' }),
    ]);
    expect(Object.keys((r.body as object[])[0] ?? {})).not.toContain('password');
  });

  it('refuses a second create of the same name (409) and replaces with PUT', async () => {
    const api = await withSecret();
    const again = await call(api, 'POST', '/api/v1/projects/vision/secrets/registry', {
      name: 'ngc',
      ...login,
    });
    expect(again.status).toBe(409);
    const put = await call(api, 'PUT', '/api/v1/projects/vision/secrets/registry/ngc', {
      ...login,
      username: 'robot',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'ngc', username: 'robot' });
    const mismatch = await call(api, 'PUT', '/api/v1/projects/vision/secrets/registry/ngc', {
      name: 'other',
      ...login,
    });
    expect(mismatch.status).toBe(400);
    expect((mismatch.body as ErrorBody).error.field).toBe('name');
  });

  it.each([
    [{ name: 'NGC', ...login }, 'name', /"NGC" is not a secret name/],
    [{ name: 'ngc', ...login, server: 'https://nvcr.io' }, 'server', /not a registry host/],
    [{ name: 'ngc', ...login, password: '' }, 'password', /must not be empty/],
    [{ name: 'ngc', server: 'nvcr.io', username: 'u' }, 'password', /required/],
    [{ name: 'ngc', ...login, token: 'x' }, 'token', /unknown field "token"/],
  ])('answers 400 naming the field for %j', async (body, field, message) => {
    const api = testApi();
    await seedOrg(api);
    const r = await call(api, 'POST', '/api/v1/projects/vision/secrets/registry', body);
    expect(r.status).toBe(400);
    expect((r.body as ErrorBody).error.field).toBe(field);
    expect((r.body as ErrorBody).error.message).toMatch(message);
  });

  it('answers 400 for a body that is not an object', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await call(api, 'POST', '/api/v1/projects/vision/secrets/registry', ['ngc']);
    expect(r.status).toBe(400);
    expect((r.body as ErrorBody).error.message).toMatch(
      /expected a JSON object \{name, server, username, password\}/,
    );
  });

  it('answers 404 for an unknown project', async () => {
    const api = testApi();
    await seedOrg(api);
    expect((await call(api, 'GET', '/api/v1/projects/nope/secrets')).status).toBe(404);
    expect(
      (await call(api, 'POST', '/api/v1/projects/nope/secrets/registry', { name: 'x', ...login })).status,
    ).toBe(404);
  });

  it('deletes a secret no workload names; refuses one a queued workload names, listing it', async () => {
    const api = await withSecret();
    expect((await call(api, 'POST', '/api/v1/workloads', imageSpec('train-a'))).status).toBe(201);
    const refused = await call(api, 'DELETE', '/api/v1/projects/vision/secrets/registry/ngc');
    expect(refused.status).toBe(409);
    expect((refused.body as ErrorBody).error.message).toMatch(
      /named by workloads of project vision .*: train-a/,
    );
    const list = (await call(api, 'GET', '/api/v1/workloads?project=vision')).body as { id: string }[];
    for (const w of list) await call(api, 'DELETE', `/api/v1/workloads/${w.id}`);
    const deleted = await call(api, 'DELETE', '/api/v1/projects/vision/secrets/registry/ngc');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ project: 'vision', name: 'ngc', deleted: true });
    expect((await call(api, 'DELETE', '/api/v1/projects/vision/secrets/registry/ngc')).status).toBe(404);
  });
});

describe('submitting with imagePullSecret', () => {
  it('stores a workload naming a secret of its project, and shows the name only', async () => {
    const api = await withSecret();
    const r = await call(api, 'POST', '/api/v1/workloads', imageSpec('train'));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      imagePullPolicy: 'IfNotPresent',
      imagePullSecret: 'ngc',
      mounts: [],
    });
  });

  it('refuses a missing secret at submit and in a dry run, naming tessera secret create registry', async () => {
    const api = await withSecret();
    for (const url of ['/api/v1/workloads', '/api/v1/workloads?dryRun=true']) {
      const r = await call(api, 'POST', url, imageSpec('train', { imagePullSecret: 'ghcr' }));
      expect(r.status).toBe(404);
      const e = (r.body as ErrorBody).error;
      expect(e.field).toBe('imagePullSecret');
      expect(e.message).toMatch(
        /no registry secret ghcr in project vision; create it with tessera secret create registry ghcr -p vision/,
      );
    }
    expect((await call(api, 'GET', '/api/v1/workloads')).body).toEqual([]);
  });

  it('answers a container policy violation with 422 naming the rule and scope', async () => {
    const api = await withSecret();
    await call(api, 'PUT', '/api/v1/policies/cluster/training', {
      container: { allowedImagePrefixes: ['nvcr.io/nvidia'], runAsNonRoot: true },
      defaults: { runAsUser: 1000 },
    });
    const ok = await call(api, 'POST', '/api/v1/workloads?dryRun=true', imageSpec('train'));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ runAsUser: 1000 });
    const outside = await call(
      api,
      'POST',
      '/api/v1/workloads',
      imageSpec('t2', { image: 'nvcr.io/other/x:1' }),
    );
    expect(outside.status).toBe(422);
    expect((outside.body as ErrorBody).error).toMatchObject({
      code: 'TESSERA_E_POLICY_VIOLATION',
      field: 'image',
    });
    expect((outside.body as ErrorBody).error.message).toMatch(
      /rule allowedImagePrefixes set by policy cluster/,
    );
    const mount = await call(
      api,
      'POST',
      '/api/v1/workloads',
      imageSpec('t3', { mounts: [{ hostPath: '/etc' }] }),
    );
    expect(mount.status).toBe(422);
    expect((mount.body as ErrorBody).error.message).toMatch(/an admin must allow it/);
  });
});

describe('who may manage registry secrets', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it("lets a project's researcher and viewer list them, but only a department-admin or admin write them", async () => {
    world = await buildWorld();
    const w = world;
    const url = '/api/v1/projects/p1/secrets/registry';
    const denied = await w.call('POST', url, w.token.res, { name: 'mine', ...login });
    expect(denied.status).toBe(403);
    expect((denied.body as ErrorBody).error.message).toMatch(/department-admin/);
    expect((await w.call('DELETE', `${url}/reg`, w.token.res)).status).toBe(403);
    expect((await w.call('POST', url, w.token.dadmin, { name: 'mine', ...login })).status).toBe(201);
    const listed = await w.call('GET', '/api/v1/projects/p1/secrets', w.token.viewer);
    expect(listed.status).toBe(200);
    expect((listed.body as { name: string }[]).map((s) => s.name)).toEqual(['mine', 'reg']);
    seen.push(listed.body);
    expect((await w.call('GET', '/api/v1/projects/p2/secrets', w.token.viewer)).status).toBe(403);
  });
});
