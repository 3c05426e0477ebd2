import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningAllocator, startAllocator } from '../../allocator/main.ts';
import { PENDING_CATEGORIES, pendingCategory } from '../../allocator/metrics.ts';
import { createLogger } from '../../common/log.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(metricsAuth = false): Promise<RunningAllocator> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-metrics-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startAllocator({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    metricsAuth,
    log: createLogger({ stream: { write: () => true }, level: 'error' }),
  });
  cleanups.push(() => a.close());
  return a;
}

/** Every sample line of the exposition: `name{labels} value`. */
function samples(text: string): { name: string; labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(l);
      if (m === null) throw new Error(`not a sample line: ${l}`);
      return { name: m[1] ?? '', labels: m[2] ?? '', value: Number(m[3]) };
    });
}

function value(text: string, name: string, labels: string): number | undefined {
  return samples(text).find((s) => s.name === name && s.labels === labels)?.value;
}

async function scrape(a: RunningAllocator): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${a.url}/metrics`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe('allocator /metrics', () => {
  it('serves the scheduler, workload, agent, project, API and store families without a token', async () => {
    const a = await start();
    const admin = readFileSync(a.adminTokenFile, 'utf8').trim();
    for (const name of ['resnet', 'bert']) {
      const res = await fetch(`${a.url}/api/v1/workloads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name,
          project: 'main',
          type: 'training',
          command: ['python', 'train.py'],
          resources: { gpuDevices: 1 },
        }),
      });
      expect(res.status).toBe(201);
      // Distinct ids in the URL must still be one route label.
      const id = ((await res.json()) as { id: string }).id;
      const got = await fetch(`${a.url}/api/v1/workloads/${id}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(got.status).toBe(200);
    }
    await fetch(`${a.url}/no/such/path/${Math.random()}`);
    await a.cycleNow();

    const { status, type, text } = await scrape(a);
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    for (const family of [
      'tessera_scheduler_cycle_duration_seconds',
      'tessera_scheduler_binds_total',
      'tessera_scheduler_evictions_total',
      'tessera_workloads',
      'tessera_pending_workloads',
      'tessera_agents_connected',
      'tessera_project_deserved_gpus',
      'tessera_project_fair_share_gpus',
      'tessera_project_allocated_gpus',
      'tessera_api_request_duration_seconds',
      'tessera_store_transaction_duration_seconds',
    ])
      expect(text).toContain(`# TYPE ${family} `);

    expect(value(text, 'tessera_workloads', '{phase="Pending"}')).toBe(2);
    expect(value(text, 'tessera_workloads', '{phase="Running"}')).toBe(0);
    // No node has joined: both wait, and the reason collapses to a bounded category.
    const pending = samples(text).filter((s) => s.name === 'tessera_pending_workloads');
    expect(pending.map((s) => s.labels).sort()).toEqual(
      PENDING_CATEGORIES.map((c) => `{reason="${c}"}`).sort(),
    );
    expect(pending.reduce((sum, s) => sum + s.value, 0)).toBe(2);
    expect(value(text, 'tessera_pending_workloads', '{reason="no_nodes"}')).toBe(2);
    expect(value(text, 'tessera_agents_connected', '')).toBe(0);
    expect(value(text, 'tessera_scheduler_binds_total', '{action="allocate"}')).toBe(0);
    expect(value(text, 'tessera_scheduler_evictions_total', '{cause="rule"}')).toBe(0);
    expect(value(text, 'tessera_scheduler_cycle_duration_seconds_count', '')).toBeGreaterThanOrEqual(1);
    // Each action of every cycle is timed on its own.
    for (const action of ['allocate', 'consolidate', 'reclaim', 'preempt', 'elastic', 'stale-gang'])
      expect(
        value(text, 'tessera_scheduler_action_duration_seconds_count', `{action="${action}"}`),
        action,
      ).toBeGreaterThanOrEqual(1);

    // Project GPUs: one family per meaning, labelled by project and pool only (no `kind` to mix).
    for (const family of ['deserved', 'fair_share', 'allocated']) {
      const series = samples(text).filter((s) => s.name === `tessera_project_${family}_gpus`);
      expect(series.length, family).toBeGreaterThan(0);
      for (const s of series) expect(s.labels).toMatch(/^\{project="[^"]+",node_pool="[^"]+"\}$/);
    }
    expect(samples(text).some((s) => s.name === 'tessera_project_gpus')).toBe(false);

    // API routes are patterns, never raw URLs.
    const routes = new Set(
      samples(text)
        .filter((s) => s.name === 'tessera_api_request_duration_seconds_count')
        .map((s) => /route="([^"]*)"/.exec(s.labels)?.[1]),
    );
    expect(routes).toContain('/api/v1/workloads');
    expect(routes).toContain('/api/v1/workloads/:id');
    expect(routes).toContain('unmatched');
    for (const r of routes) expect(r).not.toMatch(/no\/such|[0-9a-f]{8}-/);
    expect(
      value(
        text,
        'tessera_api_request_duration_seconds_count',
        '{method="POST",route="/api/v1/workloads",status_class="2xx"}',
      ),
    ).toBe(2);
  });

  it("has project GPU series for every project's default pool and only the pools where it has something", async () => {
    const a = await start();
    const admin = readFileSync(a.adminTokenFile, 'utf8').trim();
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${a.url}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, path).toBe(201);
    };
    for (let i = 0; i < 20; i++) await post('/nodepools', { name: `pool-${i}`, selector: { zone: `z${i}` } });
    await post('/projects', {
      name: 'vision',
      department: 'default',
      quotas: [{ nodePool: 'pool-3', gpu: 2 }],
    });
    await a.cycleNow();
    const pairs = new Set(
      samples((await scrape(a)).text)
        .filter((s) => s.name === 'tessera_project_allocated_gpus')
        .map((s) => /project="([^"]+)",node_pool="([^"]+)"/.exec(s.labels)?.slice(1, 3).join(' ')),
    );
    // 2 projects x 21 pools would be 42 pairs; the 19 empty pools of each make none.
    expect([...pairs].sort()).toEqual(['main default', 'vision default', 'vision pool-3']);
  });

  it('label sets stay bounded across many cycles and requests', async () => {
    const a = await start();
    for (let i = 0; i < 20; i++) {
      await a.cycleNow();
      await fetch(`${a.url}/api/v1/workloads/w-${i}`);
    }
    // The first scrape's own timing lands after its response: scrape once so /metrics has its series.
    await scrape(a);
    const first = samples((await scrape(a)).text).length;
    for (let i = 20; i < 40; i++) {
      await a.cycleNow();
      await fetch(`${a.url}/api/v1/workloads/w-${i}`);
    }
    const again = (await scrape(a)).text;
    // Nothing grows with distinct URLs or with cycles.
    expect(samples(again).length).toBe(first);
  });
});

describe('allocator /metrics with metricsAuth (--metrics-auth)', () => {
  it('needs a user token whose user holds a role on the cluster', async () => {
    const a = await start(true);
    const admin = readFileSync(a.adminTokenFile, 'utf8').trim();
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${a.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: await res.text() };
    };
    const tokenFor = async (user: string, role: string, scope: string) => {
      expect((await call('POST', '/api/v1/users', admin, { name: user })).status).toBe(201);
      expect((await call('POST', '/api/v1/access-rules', admin, { subject: user, role, scope })).status).toBe(
        201,
      );
      const made = await call('POST', '/api/v1/tokens', admin, { kind: 'user', user });
      return (JSON.parse(made.body) as { token: string }).token;
    };

    const none = await fetch(`${a.url}/metrics`);
    expect(none.status).toBe(401);
    expect(await none.text()).toContain('TESSERA_E_UNAUTHENTICATED');
    const join = readFileSync(a.joinTokenFile, 'utf8').trim();
    expect((await call('GET', '/metrics', join)).status).toBe(401);

    const projectViewer = await tokenFor('alice', 'viewer', 'project/main');
    const refused = await call('GET', '/metrics', projectViewer);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('tessera access grant alice viewer cluster');

    const prometheus = await tokenFor('prometheus', 'viewer', 'cluster');
    const ok = await call('GET', '/metrics', prometheus);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('tessera_agents_connected 0');
    // The probes stay open.
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  });
});

describe('pendingCategory', () => {
  it('collapses free-text reasons to a small set', () => {
    expect(pendingCategory('project main is at its limit of 2 GPUs in pool default (2 GPUs in use)')).toBe(
      'quota',
    );
    expect(pendingCategory('gang needs 4 pods, 1 fit in pool default (no node has 2 GPUs)')).toBe('capacity');
    expect(pendingCategory('waiting for the next scheduling cycle')).toBe('waiting');
    expect(pendingCategory('node pool "default" has no nodes')).toBe('no_nodes');
    expect(pendingCategory('no node in pool "default" has 2 free whole GPUs (largest free: 1)')).toBe(
      'capacity',
    );
    expect(pendingCategory('something new and unforeseen')).toBe('other');
  });
});
