import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { movePod } from '../../../allocator/store/pods.ts';
import { seedOrg, T0, testApi, trainingSpec } from './helpers.ts';

describe('workloads with pods', () => {
  it('shows bound pods with their GPU grants, and delete waits for them to release resources', async () => {
    const api = testApi();
    await seedOrg(api);
    upsertNode(
      api.db,
      {
        name: 'n1',
        labels: {},
        gpus: [{ uuid: 'GPU-n1-0', index: 0, model: 'H100', memoryMiB: 81_920, healthy: true }],
        cpuMillis: 64_000,
        memoryMiB: 512_000,
      },
      T0,
    );
    const id = ((await api.call('POST', '/api/v1/workloads', trainingSpec('a'))).body as { id: string }).id;
    const grant = { uuid: 'GPU-n1-0', gpuMilli: 500, memoryMiB: 40_960, memoryLimitMiB: 40_960 };
    applyPlan(
      api.db,
      {
        binds: [{ group: id, pod: 'a-0', node: 'n1', grants: [grant], action: 'allocate' }],
        evictions: [],
        phaseChanges: [],
        pending: [],
      },
      T0 + 1,
    );
    const w = await api.call('GET', `/api/v1/workloads/${id}`);
    expect(w.body).toMatchObject({
      phase: 'Initializing',
      pods: [
        {
          name: 'a-0',
          node: 'n1',
          phase: 'Bound',
          gpus: [{ uuid: 'GPU-n1-0', fraction: 0.5, memoryMiB: 40_960, memoryLimitMiB: 40_960 }],
          exitCode: null,
        },
      ],
    });
    const first = await api.call('DELETE', `/api/v1/workloads/${id}`);
    expect(first).toEqual({ status: 202, body: { id, phase: 'Deleting', purged: false } });
    expect((await api.call('GET', `/api/v1/workloads/${id}`)).body).toMatchObject({ phase: 'Deleting' });
    movePod(api.db, id, 'a-0', 'Stopped', 'deleted');
    // A repeated DELETE retries the purge instead of refusing Deleting -> Deleting.
    const again = await api.call('DELETE', `/api/v1/workloads/${id}`);
    expect(again).toEqual({ status: 200, body: { id, phase: 'Deleting', purged: true } });
  });
});
