/**
 * `GET /history/...`: the sampler reads the store and the GPU readings into the history, and the
 * routes answer a window of it, aggregated when asked or when the window holds too many samples,
 * and say what was wrong with a bad name, window or step.
 */
import { describe, expect, it } from 'vitest';
import { defaultStep, MAX_HISTORY_POINTS } from '../../../allocator/api/history-routes.ts';
import { createGpuSampleCache } from '../../../allocator/service/gpu-samples.ts';
import { createHistory } from '../../../allocator/service/history.ts';
import { takeHistorySample } from '../../../allocator/service/history-sampler.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { T0, testApi } from './helpers.ts';

const MIN = 60_000;

/** An API with a history sampled `samples` times, a minute apart, ending at T0. */
function sampled(samples: number) {
  const history = createHistory({ intervalMs: MIN, windowMs: 60 * MIN });
  const api = testApi({ history });
  upsertNode(
    api.db,
    {
      name: 'n1',
      labels: {},
      gpus: [0, 1].map((index) => ({
        uuid: `G${index}`,
        index,
        model: 'H100',
        memoryMiB: 81_920,
        healthy: true,
      })),
      cpuMillis: 8000,
      memoryMiB: 65_536,
    },
    T0,
  );
  const cache = createGpuSampleCache();
  for (let i = samples - 1; i >= 0; i--) {
    const at = T0 - i * MIN;
    const reading = (uuid: string, index: number, utilizationPct: number) => ({
      uuid,
      index,
      utilizationPct,
      memoryUsedMiB: 0,
      memoryTotalMiB: 81_920,
      temperatureC: null,
      powerDrawW: null,
    });
    cache.record('n1', [reading('G0', 0, 30), reading('G1', 1, 50)], at);
    takeHistorySample({ db: api.db, samples: cache, history, now: () => at });
  }
  return api;
}

describe('GET /history', () => {
  it("answers a node's samples with its GPUs and their mean utilization", async () => {
    const api = sampled(3);
    const r = await api.call('GET', '/api/v1/history/nodes/n1');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      kind: 'node',
      name: 'n1',
      intervalMs: MIN,
      windowMs: 60 * MIN,
      stepMs: null,
    });
    const body = r.body as {
      points: { at: string; allocatedGpus: number; capacityGpus: number; utilizationPct: number }[];
    };
    expect(body.points).toHaveLength(3);
    expect(body.points[2]).toEqual({
      at: new Date(T0).toISOString(),
      allocatedGpus: 0,
      capacityGpus: 2,
      utilizationPct: 40,
    });
  });

  it("answers the default pool's samples, and 404 for a project that does not exist", async () => {
    const api = sampled(2);
    const pool = await api.call('GET', '/api/v1/history/nodepools/default');
    expect(pool.status).toBe(200);
    expect((pool.body as { points: unknown[] }).points).toHaveLength(2);
    const missing = await api.call('GET', '/api/v1/history/projects/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      error: { code: 'TESSERA_E_NOT_FOUND', message: 'no project named nope' },
    });
  });

  it('limits the window and averages over a step', async () => {
    const api = sampled(10);
    const recent = await api.call('GET', '/api/v1/history/nodes/n1?window=3m');
    expect((recent.body as { points: unknown[] }).points).toHaveLength(4);
    const stepped = await api.call('GET', '/api/v1/history/nodes/n1?step=5m');
    const body = stepped.body as { stepMs: number; points: { utilizationPct: number }[] };
    expect(body.stepMs).toBe(5 * MIN);
    expect(body.points.length).toBeLessThanOrEqual(3);
    expect(body.points.every((p) => p.utilizationPct === 40)).toBe(true);
  });

  it('refuses a step finer than the samples, a bad duration and an unknown node, saying which', async () => {
    const api = sampled(1);
    const fine = await api.call('GET', '/api/v1/history/nodes/n1?step=10s');
    expect(fine.status).toBe(400);
    expect(fine.body).toMatchObject({ error: { field: 'step' } });
    const bad = await api.call('GET', '/api/v1/history/nodes/n1?window=soon');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'TESSERA_E_INVALID_DURATION' } });
    expect((await api.call('GET', '/api/v1/history/nodes/n9')).status).toBe(404);
    expect((await api.call('GET', '/api/v1/history/nodes/n1?since=1h')).status).toBe(400);
  });

  it('answers 503 when the API keeps no history', async () => {
    const api = testApi();
    const r = await api.call('GET', '/api/v1/history/nodes/n1');
    expect(r.status).toBe(503);
  });

  it('picks a step that keeps an answer within MAX_HISTORY_POINTS', () => {
    expect(defaultStep(24 * 60 * MIN, MIN)).toBeNull();
    expect(defaultStep(24 * 60 * MIN, 1000)).toBe(60_000);
    const step = defaultStep(10 * 24 * 60 * MIN, 7000) ?? 0;
    expect(step % 7000).toBe(0);
    expect((10 * 24 * 60 * MIN) / step).toBeLessThanOrEqual(MAX_HISTORY_POINTS);
  });
});
