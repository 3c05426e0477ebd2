/**
 * The serving path on real processes: an allocator and a sim agent over loopback, an inference
 * workload whose "model" is examples/inference/echo-server.mjs on the host port it was given, called through the
 * allocator's /serve/PROJECT/WORKLOAD/ with and without a token that may read the project.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const { cluster, tessera } = useCluster({ n1: '2xH100-80GB' });

describe('serving through /serve/PROJECT/WORKLOAD/', () => {
  it('proxies to the ready replica for a reader of the project, 401 without a token, 403 without access', async () => {
    const c = cluster();
    const created = (await c.api.expect(201, 'POST', '/workloads', {
      name: 'echo',
      project: c.defaultProject,
      type: 'inference',
      command: [process.execPath, resolve('examples/inference/echo-server.mjs')],
      // The allocator gives the replica a host port of its node's range, in PORT.
      ports: [{ name: 'http' }],
      resources: { cpu: '100m', memory: '64MiB' },
    })) as { id: string; url: string };
    expect(created.url).toBe(`${c.url}/serve/${c.defaultProject}/echo/`);

    const admin = { authorization: `Bearer ${c.adminToken}` };
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${created.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });

    // The first request may arrive before the replica listens: it waits for it rather than failing.
    const first = await until(
      async () => {
        const r = await call('v1/hello?x=1', { headers: admin });
        return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
      },
      'the echo replica answering through the proxy',
      20_000,
    );
    expect(first.path).toBe('/v1/hello?x=1');
    expect(first.authorization).toBeNull(); // the Tessera token never reaches the workload
    expect(first.prefix).toBe(`/serve/${c.defaultProject}/echo`);

    const posted = await call('predict', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ input: [1, 2, 3] }),
    });
    expect(posted.status).toBe(200);
    expect(((await posted.json()) as { body: string }).body).toBe('{"input":[1,2,3]}');

    expect((await call('v1/hello')).status).toBe(401);
    await c.api.expect(201, 'POST', '/users', { name: 'outsider' });
    const token = (await c.api.expect(201, 'POST', '/tokens', { kind: 'user', user: 'outsider' })) as {
      token: string;
    };
    const forbidden = await call('v1/hello', { headers: { authorization: `Bearer ${token.token}` } });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toMatch(/tessera access grant outsider viewer/);

    const view = (await c.api.expect(200, 'GET', `/workloads/${created.id}`)) as { readyReplicas: number };
    expect(view.readyReplicas).toBe(1);
  }, 60_000);

  it('workspace open prints the URL of its custom tool, served to a reader of the project only', async () => {
    const c = cluster();
    const submitted = await tessera(
      'submit',
      'workspace',
      'nb',
      '-p',
      c.defaultProject,
      '--cpu',
      '100m',
      '--memory',
      '64MiB',
      '--port',
      'ui',
      '--tool',
      'custom',
      '--tool-port',
      'ui',
      '--probe',
      'http:ui/',
      '--',
      process.execPath,
      resolve('examples/inference/echo-server.mjs'),
    );
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const opened = await tessera('workspace', 'open', 'nb', '-p', c.defaultProject);
    expect(opened.code).toBe(0);
    const url = opened.stdout.split('\n')[0] ?? '';
    expect(url).toBe(`${c.url}/serve/${c.defaultProject}/nb/`);
    expect(opened.stdout).toMatch(/tool custom/);

    const call = (headers: Record<string, string> = {}) =>
      fetch(`${url}lab?x=1`, { headers, signal: AbortSignal.timeout(10_000) });
    const answer = await until(
      async () => {
        const r = await call({ authorization: `Bearer ${c.adminToken}` });
        return r.status === 200 ? ((await r.json()) as { path: string; port: number }) : undefined;
      },
      'the workspace tool answering through the proxy',
      20_000,
    );
    expect(answer.path).toBe('/lab?x=1');
    const view = (await c.api.expect(200, 'GET', `/workloads?project=${c.defaultProject}`)) as {
      name: string;
      endpoints: { ports: Record<string, number> }[];
    }[];
    expect(answer.port).toBe(view.find((w) => w.name === 'nb')?.endpoints[0]?.ports.ui);

    expect((await call()).status).toBe(401);
    await c.api.expect(201, 'POST', '/users', { name: 'stranger' });
    const token = (await c.api.expect(201, 'POST', '/tokens', { kind: 'user', user: 'stranger' })) as {
      token: string;
    };
    expect((await call({ authorization: `Bearer ${token.token}` })).status).toBe(403);
    // A viewer of the project may open it.
    const granted = await tessera('access', 'grant', 'stranger', 'viewer', `project/${c.defaultProject}`);
    expect(granted.stderr).toBe('');
    expect((await call({ authorization: `Bearer ${token.token}` })).status).toBe(200);
  }, 60_000);
});
