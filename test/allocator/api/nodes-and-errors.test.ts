import { describe, expect, it } from 'vitest';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { smallOrg, submitBound, training } from '../lifecycle/helpers.ts';
import { T0, testApi } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

function addNode(db: Parameters<typeof upsertNode>[0], name: string): void {
  upsertNode(
    db,
    {
      name,
      labels: { 'gpu.model': 'H100' },
      gpus: [{ uuid: `GPU-${name}-0`, index: 0, model: 'H100', memoryMiB: 81_920, healthy: true }],
      cpuMillis: 64_000,
      memoryMiB: 512_000,
    },
    T0,
  );
}

describe('nodes API', () => {
  it('lists, reads and cordons a node, signalling a node change', async () => {
    const api = testApi();
    addNode(api.db, 'n1');
    const list = await api.call('GET', '/api/v1/nodes');
    expect(list.body).toMatchObject([{ name: 'n1', cordoned: false, labels: { 'gpu.model': 'H100' } }]);
    const r = await api.call('PATCH', '/api/v1/nodes/n1', { cordoned: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'n1', cordoned: true });
    expect((await api.call('GET', '/api/v1/nodes/n1')).body).toMatchObject({ cordoned: true });
    expect(api.changes).toEqual(['node-changed']);
    const back = await api.call('PATCH', '/api/v1/nodes/n1', { cordoned: false });
    expect(back.body).toMatchObject({ cordoned: false });
  });

  it("sets admin labels over the agent's, keeps them across agent reports, removes them with null", async () => {
    const api = testApi();
    addNode(api.db, 'n1');
    const r = await api.call('PATCH', '/api/v1/nodes/n1', { labels: { zone: 'a', 'gpu.model': 'H100-NVL' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      labels: { zone: 'a', 'gpu.model': 'H100-NVL' },
      adminLabels: { zone: 'a' },
    });
    expect(api.changes).toEqual(['node-changed']);
    // The agent reports again with its own labels: the admin's survive and still win.
    addNode(api.db, 'n1');
    expect((await api.call('GET', '/api/v1/nodes/n1')).body).toMatchObject({
      labels: { zone: 'a', 'gpu.model': 'H100-NVL' },
    });
    const back = await api.call('PATCH', '/api/v1/nodes/n1', { labels: { 'gpu.model': null, zone: null } });
    expect((back.body as { labels: Record<string, string> }).labels).toEqual({ 'gpu.model': 'H100' });
    const bad = await api.call('PATCH', '/api/v1/nodes/n1', { labels: { zone: 7 } });
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.field).toContain('labels');
  });

  it('answers 404 for an unknown node', async () => {
    const api = testApi();
    addNode(api.db, 'n1');
    expect((await api.call('PATCH', '/api/v1/nodes/nx', { cordoned: true })).status).toBe(404);
    expect((await api.call('GET', '/api/v1/nodes/nx')).status).toBe(404);
    expect((await api.call('DELETE', '/api/v1/nodes/n1')).status).toBe(204);
  });
});

describe('API errors and probes', () => {
  it('a malformed JSON body is a 400 INVALID_SPEC in our shape', async () => {
    const api = testApi();
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/workloads',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(res.statusCode).toBe(400);
    const e = (res.json() as ErrorBody).error;
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.message).toContain('not valid JSON');
  });

  it('a body that is not JSON is a 400 in our shape', async () => {
    const api = testApi();
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/departments',
      headers: { 'content-type': 'text/csv' },
      payload: 'name\nresearch',
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as ErrorBody).error.code).toBe('TESSERA_E_INVALID_SPEC');
  });

  it('an unknown route is a 404 in our shape', async () => {
    const api = testApi();
    const r = await api.call('GET', '/api/v1/nope');
    expect(r.status).toBe(404);
    expect((r.body as ErrorBody).error).toMatchObject({ code: 'TESSERA_E_NOT_FOUND' });
    expect((r.body as ErrorBody).error.message).toContain('/api/v1/nope');
  });

  it('healthz always answers; readyz answers while the database does', async () => {
    const api = testApi();
    expect(await api.call('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await api.call('GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
    api.db.close();
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    const r = await api.call('GET', '/readyz');
    expect(r.status).toBe(500);
    expect((r.body as ErrorBody).error.code).toBe('TESSERA_E_INTERNAL');
  });
});

describe('node drain API', () => {
  it('drains by the rules, lists the pods left, and names the pool that claims each node', async () => {
    const api = testApi();
    smallOrg(api.db);
    submitBound(api.db, 'pre', training('pre'), [['n1', 0]]);
    submitBound(api.db, 'keep', { ...training('keep'), priorityClass: 'build' }, [['n1', 1]]);
    const nodes = (await api.call('GET', '/api/v1/nodes')).body as { name: string; nodePool: string }[];
    expect(nodes.map((n) => [n.name, n.nodePool])).toEqual([
      ['n1', 'default'],
      ['n2', 'default'],
      ['n3', 'a100'],
    ]);
    const r = await api.call('POST', '/api/v1/nodes/n1/drain');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      node: 'n1',
      evicted: [{ workload: 'pre', pod: 'pre-0', requeued: true }],
      held: [{ workload: 'keep', hold: 'non-preemptible' }],
      drained: false,
    });
    expect(api.changes).toEqual(['node-changed']);
    expect((await api.call('GET', '/api/v1/nodes/n1')).body).toMatchObject({ cordoned: true });
    const pods = (await api.call('GET', '/api/v1/nodes/n1/pods')).body;
    expect(pods).toMatchObject([
      { name: 'keep-0', workload: 'keep', project: 'vision', phase: 'Bound', preemptible: false },
      { name: 'pre-0', workload: 'pre', phase: 'Stopping', preemptible: true },
    ]);
    const forced = await api.call('POST', '/api/v1/nodes/n1/drain', { force: true });
    expect(forced.body).toMatchObject({ evicted: [{ pod: 'keep-0' }], held: [] });
    const bad = await api.call('POST', '/api/v1/nodes/n1/drain', { force: 'yes' });
    expect(bad.status).toBe(400);
    expect((await api.call('POST', '/api/v1/nodes/nx/drain', {})).status).toBe(404);
    expect((await api.call('GET', '/api/v1/nodes/nx/pods')).status).toBe(404);
  });
});
