import { describe, expect, it } from 'vitest';
import type { LogSource } from '../../../allocator/api/info-routes.ts';
import type { LogEndCause, RoutedLogChunk } from '../../../allocator/link/logs.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { seedOrg, T0, type TestApi, testApi, trainingSpec } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string } };

/** A workload whose one pod is bound to node n1, in an API whose logs come from `logs`. */
async function podOnNode(logs: LogSource): Promise<{ api: TestApi; id: string }> {
  const api = testApi({ info: { logs } });
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
  return { api, id };
}

/** A log source whose every request ends at once with `error` (and the router's `cause`, if any). */
const endsWith =
  (error: string, cause?: LogEndCause): LogSource =>
  (_node, _ask, onChunk) => {
    const last: RoutedLogChunk = { requestId: 'r', data: new Uint8Array(0), eof: true, error };
    onChunk(cause === undefined ? last : { ...last, cause });
    return { requestId: 'r', cancel: () => {}, pause: () => {}, resume: () => {} };
  };

describe('GET /workloads/:id/logs when the node cannot serve them', () => {
  it('a node that is not connected is a 409 NODE_UNAVAILABLE, not a 5xx', async () => {
    const { api, id } = await podOnNode(() => null);
    const r = await api.call('GET', `/api/v1/workloads/${id}/logs`);
    expect(r.status).toBe(409);
    expect((r.body as ErrorBody).error).toMatchObject({
      code: 'TESSERA_E_NODE_UNAVAILABLE',
      message: 'node n1 of pod a-0 is not connected; its logs stay on the node',
    });
  });

  it.each([
    ['node-gone', 'node n1 disconnected'],
    ['no-answer', 'node n1 did not answer the log request within 10000 ms'],
  ] as const)('a request the router ended (%s) is a 409 NODE_UNAVAILABLE', async (cause, error) => {
    const { api, id } = await podOnNode(endsWith(error, cause));
    const r = await api.call('GET', `/api/v1/workloads/${id}/logs`);
    expect(r.status).toBe(409);
    expect((r.body as ErrorBody).error).toEqual({ code: 'TESSERA_E_NODE_UNAVAILABLE', message: error });
  });

  it("the agent's own answers: no logs is a 404, a failed read a 409; the allocator stopping is a 503", async () => {
    const cases: [LogSource, number, string][] = [
      [endsWith('pod p has no logs on this node'), 404, 'TESSERA_E_NOT_FOUND'],
      [endsWith('reading the log of p failed: EACCES'), 409, 'TESSERA_E_NODE_UNAVAILABLE'],
      [endsWith('allocator shutting down', 'shutdown'), 503, 'TESSERA_E_UNAVAILABLE'],
    ];
    for (const [source, status, code] of cases) {
      const { api, id } = await podOnNode(source);
      const r = await api.call('GET', `/api/v1/workloads/${id}/logs`);
      expect(r.status, code).toBe(status);
      expect((r.body as ErrorBody).error.code).toBe(code);
    }
  });
});
