import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RunningAllocator, startAllocator } from '../../allocator/main.ts';
import { ALLOCATOR_FILE } from '../../allocator/service/bootstrap.ts';
import { createLogger } from '../../common/log.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tessera-main-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Starts an allocator on a free loopback port, logging nowhere; closed after the test. */
async function start(dir: string): Promise<RunningAllocator> {
  const a = await startAllocator({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    leaseMs: 3000,
    heartbeatMs: 500,
    log: createLogger({ stream: { write: () => true }, level: 'error' }),
  });
  cleanups.push(() => a.close());
  return a;
}

const tokenOf = (file: string) => readFileSync(file, 'utf8').trim();

/** GET or POST `path` with an optional bearer token; status and parsed body. */
async function call(a: RunningAllocator, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${a.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

/** The HTTP status an agent-link upgrade with `token` gets (101 when it opens). */
function upgradeStatus(a: RunningAllocator, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${a.url.replace('http', 'ws')}/api/v1/agents/connect`, {
      headers: { authorization: `Bearer ${token}` },
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
  });
}

describe('startAllocator', () => {
  it('serves /healthz without a token and /api/v1 only with the admin token', async () => {
    const a = await start(dataDir());
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`);
    expect(await call(a, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await call(a, '/api/v1/projects')).status).toBe(401);
    expect((await call(a, '/api/v1/projects', 'tu.bogus.bogus')).status).toBe(401);
    const ok = await call(a, '/api/v1/projects', tokenOf(a.adminTokenFile));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual([expect.objectContaining({ name: 'main' })]);
  });

  it('writes allocator.json with its url and pid, and removes it on close', async () => {
    const dir = dataDir();
    const a = await start(dir);
    const info = JSON.parse(readFileSync(join(dir, ALLOCATOR_FILE), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ url: a.url, pid: process.pid });
    await a.close();
    expect(existsSync(join(dir, ALLOCATOR_FILE))).toBe(false);
    // close is idempotent.
    await a.close();
  });

  it('a second start on the same dir keeps the token, the projects and a submitted workload', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const admin = tokenOf(first.adminTokenFile);
    const join = tokenOf(first.joinTokenFile);
    const submitted = await call(first, '/api/v1/workloads', admin, {
      name: 'resnet',
      project: 'main',
      type: 'training',
      command: ['python', 'train.py'],
      resources: { gpuDevices: 1 },
    });
    expect(submitted.status).toBe(201);
    await first.close();

    const second = await start(dir);
    expect(tokenOf(second.adminTokenFile)).toBe(admin);
    expect(tokenOf(second.joinTokenFile)).toBe(join);
    const projects = await call(second, '/api/v1/projects', admin);
    expect(projects.body).toEqual([expect.objectContaining({ name: 'main' })]);
    const workloads = await call(second, '/api/v1/workloads', admin);
    expect(workloads.status).toBe(200);
    // No node has joined, so it is still waiting for the scheduler.
    expect(workloads.body).toEqual([expect.objectContaining({ name: 'resnet', phase: 'Pending' })]);
  });

  it('refuses an agent-link upgrade with the admin (user) token, and opens one with the join token', async () => {
    const a = await start(dataDir());
    expect(await upgradeStatus(a, tokenOf(a.adminTokenFile))).toBe(401);
    expect(await upgradeStatus(a, tokenOf(a.joinTokenFile))).toBe(101);
    expect(a.stats().link.refusedUpgrades).toBe(1);
  });

  it('runs a scheduling cycle on demand', async () => {
    const a = await start(dataDir());
    const before = a.stats().cycles;
    await a.cycleNow();
    expect(a.stats().cycles).toBe(before + 1);
    expect(a.connectedNodes()).toEqual([]);
  });
});
