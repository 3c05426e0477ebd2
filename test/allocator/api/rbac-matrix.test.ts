/**
 * The RBAC matrix over the real API: every route in permissions.ts, with a target inside and one
 * outside the callers' scopes, called by admin@cluster, department-admin@department/d1,
 * researcher@project/p1, viewer@project/p1, researcher@department/d1 and a user with no rules.
 * An allowed call must succeed (2xx), a refused one is 403; the table and the routes the API
 * serves are the same set, so a table route the API lacks fails here. Then the 401s: revoked, expired, agent and join tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../../allocator/api/permissions.ts';
import { createJoinToken, issueNodeCredential, revokeToken } from '../../../allocator/identity/index.ts';
import { CASES, type Method } from './rbac-cases.ts';
import { buildWorld, WHO, type Who, type World } from './rbac-world.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function fresh(): Promise<World> {
  world = await buildWorld();
  // DELETE /departments/d3 needs an empty department to delete.
  await world.call('POST', '/api/v1/departments', world.token.admin, { name: 'd3' });
  return world;
}

describe('RBAC matrix: role x scope x route', () => {
  it('covers every route in the permission table', () => {
    const covered = new Set(CASES.map((c) => c.route));
    expect(Object.keys(PERMISSIONS).filter((k) => !covered.has(k))).toEqual([]);
    expect([...covered].filter((k) => PERMISSIONS[k] === undefined)).toEqual([]);
  });

  it('classifies every route the API serves (an unlisted one is admin-only by default)', async () => {
    const w = await fresh();
    expect(w.served.length).toBeGreaterThan(30);
    expect(w.served.filter((k) => PERMISSIONS[k] === undefined)).toEqual([]);
  });

  it('serves every route of the permission table (none is answered by a stand-in)', async () => {
    const w = await fresh();
    const served = new Set(w.served);
    expect(Object.keys(PERMISSIONS).filter((k) => !served.has(k))).toEqual([]);
  });

  it('refuses a route missing from the table to all but admins', async () => {
    const w = await fresh();
    // A table without the route is what an unclassified new route meets.
    const saved = PERMISSIONS['GET /nodes'];
    const table = PERMISSIONS as Record<string, (typeof PERMISSIONS)[string]>;
    delete table['GET /nodes'];
    try {
      expect((await w.call('GET', '/api/v1/nodes', w.token.dadmin)).status).toBe(403);
      expect((await w.call('GET', '/api/v1/nodes', w.token.admin)).status).toBe(200);
    } finally {
      if (saved !== undefined) table['GET /nodes'] = saved;
    }
  });

  const rows = CASES.flatMap((c) =>
    WHO.map((who) => ({ ...c, who, expected: c.allowed.includes(who) ? 'allowed' : '403' })),
  );
  it.each(rows)('$route ($target) as $who: $expected', async (row) => {
    const w = await fresh();
    const url = `/api/v1${typeof row.url === 'function' ? row.url(w, row.who) : row.url}`;
    const method = row.route.split(' ')[0] as Method;
    // POST /departments d3 exists already for the DELETE case; create d4 instead.
    const body = row.route === 'POST /departments' ? { name: 'd4' } : row.body;
    const r = await w.call(method, url, w.token[row.who], body);
    if (row.expected === '403') {
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body).toMatchObject({ error: { code: 'TESSERA_E_FORBIDDEN' } });
    } else if (row.loose === true) {
      expect([401, 403], JSON.stringify(r.body)).not.toContain(r.status);
    } else {
      expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(200);
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    }
  });
});

describe('tokens that open no API door (401)', () => {
  it('refuses a missing, revoked or expired user token, and agent and join tokens', async () => {
    const w = await fresh();
    expect((await w.call('GET', '/api/v1/whoami')).status).toBe(401);

    revokeToken(w.tokens, w.tokenId.res, w.clock.nowMs);
    const revoked = await w.call('GET', '/api/v1/workloads', w.token.res);
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ error: { code: 'TESSERA_E_UNAUTHENTICATED' } });

    const created = await w.call('POST', '/api/v1/tokens', w.token.viewer, { kind: 'user', expiresIn: '1h' });
    expect(created.status).toBe(201);
    const short = (created.body as { token: string }).token;
    expect((await w.call('GET', '/api/v1/whoami', short)).status).toBe(200);
    w.clock.nowMs += 3_600_000;
    expect((await w.call('GET', '/api/v1/whoami', short)).status).toBe(401);
    expect((await w.call('GET', '/api/v1/whoami', w.token.viewer)).status).toBe(200);

    const join = createJoinToken(w.tokens);
    const node = issueNodeCredential(w.tokens, 'n1');
    for (const t of [join, node]) {
      const r = await w.call('GET', '/api/v1/nodes', t);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: { code: 'TESSERA_E_UNAUTHENTICATED' } });
    }
  });

  it('a revoked token stays listed with revokedAt; a user revokes its own through the API', async () => {
    const w = await fresh();
    const r = await w.call('DELETE', `/api/v1/tokens/${w.tokenId.dres}`, w.token.dres);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: w.tokenId.dres, revokedAt: new Date(w.clock.nowMs).toISOString() });
    expect((await w.call('GET', '/api/v1/whoami', w.token.dres)).status).toBe(401);
  });
});

describe('lists show what the caller may read', () => {
  const names = (body: unknown, key = 'name') => (body as Record<string, string>[]).map((x) => x[key]).sort();

  it('filters workloads, projects, departments, tokens and access rules', async () => {
    const w = await fresh();
    const as = async (who: Who, url: string) => (await w.call('GET', `/api/v1${url}`, w.token[who])).body;
    expect(names(await as('res', '/workloads'))).toEqual(['w1', 'ws1']);
    expect(names(await as('dadmin', '/workloads'))).toEqual(['w1', 'ws1']);
    expect(names(await as('admin', '/workloads'))).toEqual(['w1', 'w2', 'ws1', 'ws2']);
    expect(await as('nobody', '/workloads')).toEqual([]);
    expect(names(await as('dres', '/projects'))).toEqual(['p1', 'p1b']);
    expect(names(await as('viewer', '/projects'))).toEqual(['p1']);
    expect(names(await as('dadmin', '/departments'))).toEqual(['d1']);
    expect(await as('viewer', '/departments')).toEqual([]);
    expect(names(await as('res', '/tokens'), 'subject')).toEqual(['res']);
    expect(names(await as('res', '/access-rules'), 'subject')).toEqual(['res']);
    expect(((await as('admin', '/access-rules')) as unknown[]).length).toBe(6);
  });

  it('whoami names the user and its rules', async () => {
    const w = await fresh();
    const r = await w.call('GET', '/api/v1/whoami', w.token.dadmin);
    expect(r.body).toMatchObject({
      user: 'dadmin',
      rules: [{ role: 'department-admin', scope: 'department/d1' }],
    });
  });
});

describe('history of a deleted workload', () => {
  it('is read by cluster readers only, its project being gone with it', async () => {
    const w = await fresh();
    w.db.prepare("DELETE FROM workloads WHERE id = 'w1'").run();
    expect((await w.call('GET', '/api/v1/workloads/w1/events', w.token.admin)).status).toBe(200);
    expect((await w.call('GET', '/api/v1/workloads/w1/events', w.token.res)).status).toBe(403);
  });
});

describe('a 403 says what to ask for', () => {
  it('names the role, the scope and the grant command', async () => {
    const w = await fresh();
    const r = await w.call('POST', '/api/v1/workloads', w.token.res, {
      name: 'x',
      project: 'p2',
      type: 'training',
      command: ['true'],
      resources: { gpuFraction: 0.5 },
    });
    expect(r.status).toBe(403);
    const message = (r.body as { error: { message: string } }).error.message;
    expect(message).toContain('researcher on project/p2');
    expect(message).toContain('tessera access grant res researcher project/p2');
    const quota = await w.call('PATCH', '/api/v1/departments/d1', w.token.dadmin, { quotas: [] });
    expect((quota.body as { error: { message: string } }).error.message).toContain('admin on cluster');
  });

  it('refuses to remove the last admin on cluster', async () => {
    const w = await fresh();
    const rules = (await w.call('GET', '/api/v1/access-rules', w.token.admin)).body as {
      id: number;
      role: string;
    }[];
    const adminRule = rules.find((x) => x.role === 'admin');
    const r = await w.call('DELETE', `/api/v1/access-rules/${adminRule?.id}`, w.token.admin);
    expect(r.status).toBe(409);
    expect((await w.call('DELETE', '/api/v1/users/admin', w.token.admin)).status).toBe(409);
  });
});
