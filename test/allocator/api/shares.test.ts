import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { createShareStore, type ShareRow } from '../../../allocator/service/shares.ts';
import { setQuota } from '../../../allocator/store/org.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { T0 } from './helpers.ts';
import { buildWorld, type World } from './rbac-world.ts';

let world: World | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/** GET /shares as `who`, through an API whose share store saw one cycle of the world's store. */
async function sharesAs(w: World, token: string): Promise<{ status: number; rows: ShareRow[] }> {
  const shares = createShareStore();
  const snapshot = buildSnapshot(w.db, T0);
  shares.record(snapshot, runCycle(snapshot));
  const app = buildApi({ db: w.db, tokens: w.tokens, now: () => T0, info: { shares } });
  try {
    const res = await app.inject({ url: '/api/v1/shares', headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, rows: res.statusCode === 200 ? (res.json() as ShareRow[]) : [] };
  } finally {
    await app.close();
  }
}

const queues = (rows: readonly ShareRow[]) => [...new Set(rows.map((r) => `${r.kind}:${r.queue}`))];

describe('GET /shares', () => {
  it("answers every queue's deserved quota, fair share and allocation per pool, in GPUs, from the cycle's plan", async () => {
    world = await buildWorld();
    const quota = { deserved: { gpuMilli: 500 }, overQuotaWeight: 2 };
    expect(setQuota(world.db, 'p1', 'gpu', quota).ok).toBe(true);
    const { status, rows } = await sharesAs(world, world.token.admin);
    expect(status).toBe(200);
    expect(queues(rows)).toEqual([
      'department:d1',
      'department:d2',
      'project:p1',
      'project:p1b',
      'project:p2',
      'project:p2b',
    ]);
    const row = (queue: string, pool: string) => rows.find((r) => r.queue === queue && r.nodePool === pool);
    // p1 deserves half a GPU in pool gpu but asks for nothing there: its fair share is 0 (the
    // scheduler's semantics: deserved it can use, plus spare); in default its pending half GPU is.
    expect(row('p1', 'gpu')).toEqual({
      queue: 'p1',
      kind: 'project',
      department: 'd1',
      nodePool: 'gpu',
      deserved: 0.5,
      fairShare: 0,
      allocated: 0,
      limit: -1,
      overQuotaWeight: 2,
    });
    // Allocation is after the cycle's own plan: it bound p1's pending half GPU on n1.
    expect(row('p1', 'default')).toMatchObject({
      deserved: 0,
      fairShare: 0.5,
      allocated: 0.5,
      overQuotaWeight: 1,
    });
    expect(row('d1', 'gpu')).toMatchObject({ kind: 'department', department: null, deserved: 0.5 });
  });

  it('shows a caller only the queues it may read', async () => {
    world = await buildWorld();
    expect(queues((await sharesAs(world, world.token.viewer)).rows)).toEqual(['project:p1']);
    expect(queues((await sharesAs(world, world.token.dadmin)).rows)).toEqual([
      'department:d1',
      'project:p1',
      'project:p1b',
    ]);
    expect(await sharesAs(world, world.token.nobody)).toEqual({ status: 200, rows: [] });
  });

  it('is empty before the first cycle', async () => {
    world = await buildWorld();
    const app = buildApi({
      db: world.db,
      tokens: world.tokens,
      now: () => T0,
      info: { shares: createShareStore() },
    });
    const res = await app.inject({
      url: '/api/v1/shares',
      headers: { authorization: `Bearer ${world.token.admin}` },
    });
    await app.close();
    expect(res.json()).toEqual([]);
  });
});
