/** `tessera node list`, `reset` and `delete` through `runCli` against a live API with RBAC. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, issueNodeCredential } from '../../allocator/identity/index.ts';
import { getNode, markLostNodes, setCordoned, upsertNode } from '../../allocator/store/nodes.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;

beforeAll(async () => {
  api = await startLiveApi({ prefix: 'tessera-node-', tokens: 'sqlite' });
  const gpu = (i: number) => ({
    uuid: `GPU-${i}`,
    index: i,
    model: 'H100',
    memoryMiB: 81_920,
    healthy: true,
  });
  upsertNode(
    api.db,
    { name: 'gpu-07', labels: {}, gpus: [gpu(0), gpu(1)], cpuMillis: 8000, memoryMiB: 65_536 },
    Date.now(),
  );
  upsertNode(
    api.db,
    { name: 'gpu-08', labels: {}, gpus: [], cpuMillis: 8000, memoryMiB: 65_536 },
    Date.now(),
  );
  setCordoned(api.db, 'gpu-08', true);
});

afterAll(() => api.close());

describe('tessera node', () => {
  it('lists nodes with their GPUs and state', async () => {
    const r = await api.tessera('node', 'list');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/NAME\s+NODE POOL\s+GPUS\s+STATE\s+LAST SEEN/);
    expect(lines[1]).toMatch(/gpu-07\s+default\s+2\s+ready/);
    expect(lines[2]).toMatch(/gpu-08\s+default\s+0\s+cordoned/);
  });

  it('reset revokes the credentials of a node and says how it registers again', async () => {
    const cred = issueNodeCredential(api.tokens, 'gpu-07');
    const r = await api.tessera('node', 'reset', 'gpu-07');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('node gpu-07 reset: 1 credential revoked');
    expect(r.stdout).toContain('join token');
    expect(authenticate(api.tokens, cred)).toBeNull();
  });

  it('reset of an unknown node fails naming it', async () => {
    const r = await api.tessera('node', 'reset', 'nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no node named nope');
  });

  it('delete --force refuses a node that did not miss its lease, and forgets one that did', async () => {
    upsertNode(
      api.db,
      { name: 'gpu-09', labels: {}, gpus: [], cpuMillis: 8000, memoryMiB: 65_536 },
      Date.now(),
    );
    const refused = await api.tessera('node', 'delete', 'gpu-09', '--force');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('node gpu-09 is connected');
    expect(getNode(api.db, 'gpu-09')).toBeDefined();
    markLostNodes(api.db, Date.now() + 3_600_000, 1000);
    const r = await api.tessera('node', 'delete', 'gpu-09', '--force');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('node gpu-09 deleted; its pods are placed elsewhere.\n');
    expect(getNode(api.db, 'gpu-09')).toBeUndefined();
  });
});
