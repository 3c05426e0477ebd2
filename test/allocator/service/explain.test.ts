/**
 * `tessera explain`'s source: the newest cycle's pending reasons per workload, and the route that
 * reads them, fed from a real scheduling cycle over a real store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { createExplainStore } from '../../../allocator/service/explain.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { openDb } from '../../../allocator/store/db.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';

const T0 = 1_700_000_000_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('explain store', () => {
  it('keeps only the newest cycle: a workload placed since has no reason left', () => {
    const s = createExplainStore();
    expect(s.get('w1')).toEqual({ reasons: [], cycleAtMs: null });
    s.record(
      [
        { group: 'w1', reason: 'no node has 8 free GPUs' },
        { group: 'w1', reason: 'no node has 8 free GPUs' },
        { group: 'w2', reason: 'over quota' },
      ],
      T0,
    );
    expect(s.get('w1')).toEqual({ reasons: ['no node has 8 free GPUs'], cycleAtMs: T0 });
    s.record([{ group: 'w2', reason: 'over quota' }], T0 + 1000);
    expect(s.get('w1')).toEqual({ reasons: [], cycleAtMs: T0 + 1000 });
    expect(s.get('w2').reasons).toEqual(['over quota']);
  });
});

describe('GET /workloads/:id/explain', () => {
  async function world() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-explain-'));
    const db = openDb({ dataDir: dir });
    const explain = createExplainStore();
    const app = buildApi({ db, now: () => T0, info: { explain } });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => db.close());
    cleanups.push(() => app.close());
    const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
      const r = await app.inject({ method, url: `/api/v1${url}`, ...(payload ? { payload } : {}) });
      return { status: r.statusCode, body: r.json() as Record<string, unknown> };
    };
    await call('POST', '/departments', { name: 'research' });
    await call('POST', '/projects', {
      name: 'vision',
      department: 'research',
      quotas: [{ nodePool: 'default', gpu: 4, overQuotaWeight: 1, limit: -1 }],
    });
    const gpus = [0, 1].map((i) => ({
      uuid: `GPU-${i}`,
      index: i,
      model: 'H100',
      memoryMiB: 81_920,
      healthy: true,
    }));
    upsertNode(db, { name: 'n1', labels: {}, gpus, cpuMillis: 64_000, memoryMiB: 512_000 }, T0);
    const cycle = () => {
      const plan = runCycle(buildSnapshot(db, T0));
      explain.record(plan.pending, T0);
      applyPlan(db, plan, T0);
    };
    return { call, cycle };
  }

  const spec = (name: string, gpuDevices: number) => ({
    name,
    project: 'vision',
    type: 'training',
    command: ['python', 'train.py'],
    resources: { gpuDevices },
  });

  it("names the scheduler's reason for a workload too big for any node", async () => {
    const w = await world();
    const big = await w.call('POST', '/workloads', spec('big', 8));
    expect(big.status).toBe(201);
    const id = String(big.body.id);
    const before = await w.call('GET', `/workloads/${id}/explain`);
    expect(before.body).toMatchObject({ phase: 'Pending', pending: true, cycleAt: null });
    expect(before.body.reasons).toEqual(['no scheduling cycle has run yet']);

    w.cycle();
    const after = await w.call('GET', `/workloads/${id}/explain`);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ name: 'big', phase: 'Pending', pending: true });
    expect(after.body.cycleAt).toBe(new Date(T0).toISOString());
    const reasons = after.body.reasons as string[];
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.join(' ')).toMatch(/GPU|node/i);
  });

  it('says a placed workload is not pending, naming its phase', async () => {
    const w = await world();
    const small = await w.call('POST', '/workloads', spec('small', 1));
    w.cycle();
    const e = await w.call('GET', `/workloads/${String(small.body.id)}/explain`);
    expect(e.body.pending).toBe(false);
    expect(e.body.phase).not.toBe('Pending');
    expect((e.body.reasons as string[])[0]).toMatch(
      new RegExp(`not pending: the workload is ${String(e.body.phase)}`),
    );
  });

  it('answers 404 for an unknown workload', async () => {
    const w = await world();
    expect((await w.call('GET', '/workloads/nope/explain')).status).toBe(404);
  });
});
