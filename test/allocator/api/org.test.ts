import { describe, expect, it } from 'vitest';
import { listQuotas } from '../../../allocator/store/org.ts';
import { seedOrg, testApi } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

describe('organisation API', () => {
  it('creates a department, a pool and a project with quotas in GPUs, stored as milli-GPU', async () => {
    const api = testApi();
    await seedOrg(api);
    const p = await api.call('GET', '/api/v1/projects/vision');
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      name: 'vision',
      department: 'research',
      quotas: [{ nodePool: 'default', gpu: 4, overQuotaWeight: 1, limit: -1 }],
    });
    expect(listQuotas(api.db, 'vision')[0]?.deserved.gpuMilli).toBe(4000);
    expect((await api.call('GET', '/api/v1/departments')).body).toMatchObject([
      { name: 'research', quotas: [] },
    ]);
    expect((await api.call('GET', '/api/v1/nodepools/a100')).body).toMatchObject({
      name: 'a100',
      selector: { 'gpu.model': 'A100' },
      placement: { gpu: 'spread', cpu: 'spread' },
    });
    expect(api.changes).toEqual(['pool-changed', 'quota-changed']);
  });

  it('PATCH replaces the quota set and signals a quota change', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('PATCH', '/api/v1/projects/vision', {
      quotas: [{ nodePool: 'a100', gpu: 1.5, overQuotaWeight: 2, limit: 3, cpuMillis: 8000 }],
    });
    expect(r.status).toBe(200);
    expect((r.body as { quotas: unknown[] }).quotas).toEqual([
      {
        nodePool: 'a100',
        gpu: 1.5,
        overQuotaWeight: 2,
        limit: 3,
        cpuMillis: 8000,
        memoryMiB: 0,
        limitCpuMillis: -1,
        limitMemoryMiB: -1,
      },
    ]);
    expect(api.changes.at(-1)).toBe('quota-changed');
  });

  it("keeps projects' quotas within their department's: deserved sum and limit, both ways", async () => {
    const api = testApi();
    const post = (path: string, body: unknown) => api.call('POST', path, body);
    expect(
      (await post('/api/v1/departments', { name: 'd', quotas: [{ nodePool: 'default', gpu: 4, limit: 6 }] }))
        .status,
    ).toBe(201);
    expect(
      (
        await post('/api/v1/projects', {
          name: 'a',
          department: 'd',
          quotas: [{ nodePool: 'default', gpu: 3 }],
        })
      ).status,
    ).toBe(201);
    const over = await post('/api/v1/projects', {
      name: 'b',
      department: 'd',
      quotas: [{ nodePool: 'default', gpu: 2 }],
    });
    expect(over.status).toBe(409);
    expect((over.body as ErrorBody).error.message).toMatch(
      /would hold 5000 GPU milli-units .* over the department's 4000/,
    );
    // Refused whole: the project is not created without its quota.
    expect((await api.call('GET', '/api/v1/projects/b')).status).toBe(404);
    const capped = await post('/api/v1/projects', {
      name: 'c',
      department: 'd',
      quotas: [{ nodePool: 'default', gpu: 1, limit: 8 }],
    });
    expect((capped.body as ErrorBody).error.message).toMatch(
      /limit of 8000 .* over department d's limit 6000/,
    );
    // The department cannot shrink below what its projects already hold.
    const shrink = await api.call('PATCH', '/api/v1/departments/d', {
      quotas: [{ nodePool: 'default', gpu: 2 }],
    });
    expect(shrink.status).toBe(409);
    expect(listQuotas(api.db, 'd')[0]?.deserved.gpuMilli).toBe(4000);
  });

  it('deleting a project drops the access rules and policies that named it', async () => {
    const api = testApi();
    await seedOrg(api);
    api.db.prepare("INSERT INTO users (name, created_ms) VALUES ('u', 0)").run();
    api.db
      .prepare(
        "INSERT INTO access_rules (subject, role, scope, created_ms) VALUES ('u', 'viewer', 'project/vision', 0)",
      )
      .run();
    api.db
      .prepare(
        "INSERT INTO policies (scope, type, body, updated_ms) VALUES ('project:vision', 'training', '{}', 0)",
      )
      .run();
    expect((await api.call('DELETE', '/api/v1/projects/vision')).status).toBe(204);
    const count = (sql: string) => (api.db.prepare(sql).get() as { n: number }).n;
    expect(count("SELECT COUNT(*) AS n FROM access_rules WHERE scope = 'project/vision'")).toBe(0);
    expect(count("SELECT COUNT(*) AS n FROM policies WHERE scope = 'project:vision'")).toBe(0);
  });

  it('refuses bad quotas naming the field, and writes none of them', async () => {
    const api = testApi();
    await seedOrg(api);
    const cases: [unknown, number, string][] = [
      [[{ nodePool: 'default', gpu: -1 }], 400, 'quotas.0.gpu'],
      [[{ nodePool: 'default', gpu: 2, limit: 1 }], 400, 'quotas.0.limit'],
      [[{ nodePool: 'default', gpu: 0.0005 }], 400, 'quotas.0.gpu'],
      [
        [
          { nodePool: 'default', gpu: 1 },
          { nodePool: 'nowhere', gpu: 1 },
        ],
        404,
        'quotas.1.nodePool',
      ],
      [[{ nodePool: 'default', gpu: 1, colour: 'red' }], 400, 'quotas.0.colour'],
    ];
    for (const [quotas, status, field] of cases) {
      const r = await api.call('PATCH', '/api/v1/projects/vision', { quotas });
      expect(r.status, field).toBe(status);
      expect((r.body as ErrorBody).error.field).toBe(field);
    }
    expect(listQuotas(api.db, 'vision').map((q) => q.deserved.gpuMilli)).toEqual([4000]);
  });

  it('refuses a quota too large to store as whole milli-GPUs with a 400 naming the field, not a 500', async () => {
    const api = testApi();
    const cases: [unknown, string][] = [
      [{ nodePool: 'default', gpu: 1e21 }, 'quotas.0.gpu'],
      [{ nodePool: 'default', gpu: 1e308 }, 'quotas.0.gpu'],
      [{ nodePool: 'default', gpu: 1, limit: 1e21 }, 'quotas.0.limit'],
      [{ nodePool: 'default', gpu: 1, limit: 1_000_001 }, 'quotas.0.limit'],
    ];
    for (const [quota, field] of cases) {
      const r = await api.call('POST', '/api/v1/departments', { name: 'big', quotas: [quota] });
      expect(r.status, JSON.stringify(quota)).toBe(400);
      expect((r.body as ErrorBody).error).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field });
    }
    const most = await api.call('POST', '/api/v1/departments', {
      name: 'big',
      quotas: [{ nodePool: 'default', gpu: 1_000_000, limit: 1_000_000 }],
    });
    expect(most.status).toBe(201);
    expect(listQuotas(api.db, 'big').map((q) => q.deserved.gpuMilli)).toEqual([1_000_000_000]);
  });

  it('answers 404 for unknown names, 409 for duplicates and keeps departments apart from projects', async () => {
    const api = testApi();
    await seedOrg(api);
    expect((await api.call('GET', '/api/v1/projects/research')).status).toBe(404);
    expect((await api.call('GET', '/api/v1/departments/vision')).status).toBe(404);
    expect((await api.call('DELETE', '/api/v1/departments/vision')).status).toBe(404);
    expect((await api.call('POST', '/api/v1/departments', { name: 'vision' })).status).toBe(409);
    expect((await api.call('POST', '/api/v1/nodepools', { name: 'a100', selector: {} })).status).toBe(409);
    const orphan = await api.call('POST', '/api/v1/projects', { name: 'p', department: 'nope' });
    expect(orphan.status).toBe(404);
    const badName = await api.call('POST', '/api/v1/departments', { name: 'Bad_Name' });
    expect(badName.status).toBe(400);
    expect((badName.body as ErrorBody).error.field).toBe('name');
  });

  it('deletes in dependency order: a department with projects is a 409', async () => {
    const api = testApi();
    await seedOrg(api);
    expect((await api.call('DELETE', '/api/v1/departments/research')).status).toBe(409);
    expect((await api.call('DELETE', '/api/v1/projects/vision')).status).toBe(204);
    expect((await api.call('DELETE', '/api/v1/departments/research')).status).toBe(204);
    expect((await api.call('DELETE', '/api/v1/nodepools/a100')).status).toBe(204);
    expect((await api.call('GET', '/api/v1/nodepools')).body).toEqual([]);
  });

  it('PATCH of a node pool keeps what it does not name', async () => {
    const api = testApi();
    await seedOrg(api);
    const r = await api.call('PATCH', '/api/v1/nodepools/a100', { selector: { 'node.type': 'dgx' } });
    expect(r.body).toMatchObject({
      selector: { 'node.type': 'dgx' },
      placement: { gpu: 'spread', cpu: 'spread' },
    });
  });

  it('departments take quotas too', async () => {
    const api = testApi();
    const r = await api.call('POST', '/api/v1/departments', {
      name: 'research',
      quotas: [{ nodePool: 'default', gpu: 8, overQuotaWeight: 1, limit: 16 }],
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ quotas: [{ nodePool: 'default', gpu: 8, limit: 16 }] });
    expect(listQuotas(api.db, 'research')[0]?.limit.gpuMilli).toBe(16_000);
    expect(api.changes).toEqual(['quota-changed']);
  });
});
