/**
 * `tessera department`, `nodepool`, `project update|describe|delete` and `node
 * describe|cordon|uncordon|label|drain` through `runCli` against a live API with RBAC. The drain here
 * has no agent, so its pods never confirm their stop: it shows the evictions and the timeout; the
 * whole drain, pods leaving and placed elsewhere, is test/integration/admin-drain.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNode, upsertNode } from '../../allocator/store/nodes.ts';
import { listQuotas } from '../../allocator/store/org.ts';
import { getPod } from '../../allocator/store/pods.ts';
import { submitBound, training } from '../allocator/lifecycle/helpers.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;

const gpu = (node: string, i: number) => ({
  uuid: `GPU-${node}-${i}`,
  index: i,
  model: 'H100',
  memoryMiB: 81_920,
  healthy: true,
});

beforeAll(async () => {
  api = await startLiveApi({ prefix: 'tessera-admin-', tokens: 'sqlite' });
  for (const n of ['n1', 'n2'])
    upsertNode(
      api.db,
      {
        name: n,
        labels: { 'gpu.model': 'H100' },
        gpus: [gpu(n, 0), gpu(n, 1)],
        cpuMillis: 8000,
        memoryMiB: 65_536,
      },
      Date.now(),
    );
});

afterAll(() => api.close());

async function ok(...args: string[]): Promise<string> {
  const r = await api.tessera(...args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('tessera department', () => {
  it('creates, lists, updates one pool, describes and deletes a department', async () => {
    expect(await ok('department', 'create', 'research', '--gpu', '8')).toMatch(
      /research\s+default\s+8\s+1\s+none/,
    );
    await ok('nodepool', 'create', 'big', '--selector', 'gpu.model=H100');
    await ok('department', 'update', 'research', '--node-pool', 'big', '--gpu', '4', '--limit', '6');
    // The update set the quota in big and kept the one in default.
    expect(
      listQuotas(api.db, 'research').map((q) => [q.nodePool, q.deserved.gpuMilli, q.limit.gpuMilli]),
    ).toEqual([
      ['big', 4000, 6000],
      ['default', 8000, -1],
    ]);
    const list = await ok('department', 'list');
    expect(list).toMatch(/research\s+big\s+4\s+1\s+6/);
    const json = JSON.parse(await ok('department', 'describe', 'research', '-o', 'json')) as {
      quotas: { nodePool: string }[];
      projects: string[];
    };
    expect(json.quotas.map((q) => q.nodePool)).toEqual(['big', 'default']);
    expect(json.projects).toEqual([]);
    await ok('department', 'update', 'research', '--node-pool', 'big', '--remove-quota');
    expect(listQuotas(api.db, 'research').map((q) => q.nodePool)).toEqual(['default']);
    await ok('project', 'create', 'vision', '--department', 'research', '--gpu', '2');
    expect(await ok('department', 'describe', 'research')).toContain('Projects: vision');
    const refused = await api.tessera('department', 'delete', 'research');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('still has projects');
    await ok('project', 'delete', 'vision');
    expect(await ok('department', 'delete', 'research')).toContain('department research deleted');
    await ok('nodepool', 'delete', 'big');
  });

  it('refuses an update that changes nothing or removes and sets at once, saying how to fix it', async () => {
    await ok('department', 'create', 'ops');
    const nothing = await api.tessera('department', 'update', 'ops');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to update');
    const both = await api.tessera('department', 'update', 'ops', '--gpu', '1', '--remove-quota');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('without --gpu');
    const bad = await api.tessera('department', 'update', 'ops', '--gpu', 'lots');
    expect(bad.stderr).toContain("--gpu 'lots' must be a number");
    const unknown = await api.tessera('department', 'describe', 'nope');
    expect(unknown.stderr).toContain('no department named nope');
  });
});

describe('tessera project update', () => {
  it('sets a quota in a second pool, keeps the first, and shows both in describe', async () => {
    await ok('nodepool', 'create', 'a100', '--selector', 'gpu.model=A100');
    await ok('project', 'create', 'nlp', '--gpu', '2');
    await ok('project', 'update', 'nlp', '--node-pool', 'a100', '--gpu', '1', '--over-quota-weight', '3');
    await ok('project', 'update', 'nlp', '--gpu', '5');
    const d = await ok('project', 'describe', 'nlp');
    expect(d).toMatch(/nlp\s+default\s+a100\s+1\s+3/);
    expect(d).toMatch(/nlp\s+default\s+default\s+5\s+1/);
  });
});

describe('tessera nodepool', () => {
  it('lists pools in claim order with the nodes each holds, updates placement and moves nodes by label', async () => {
    await ok('nodepool', 'create', 'zone-a', '--selector', 'zone=a', '--placement', 'spread');
    await ok('node', 'label', 'n1', 'zone=a');
    const list = await ok('nodepool', 'list');
    expect(list).toMatch(/1\s+a100\s+gpu\.model=A100\s+binpack\s+binpack\s+0/);
    expect(list).toMatch(/2\s+zone-a\s+zone=a\s+spread\s+spread\s+1/);
    const updated = await ok('nodepool', 'update', 'zone-a', '--cpu-placement', 'binpack');
    expect(updated).toMatch(/GPU placement:\s+spread/);
    expect(updated).toMatch(/CPU placement:\s+binpack/);
    expect(updated).toMatch(/Nodes:\s+n1/);
    const yaml = await ok('nodepool', 'describe', 'zone-a', '-o', 'yaml');
    expect(yaml).toContain('order: 2');
    const noSelector = await api.tessera('nodepool', 'create', 'x');
    expect(noSelector.code).toBe(2);
    expect(noSelector.stderr).toContain('--selector gpu.model=A100');
    const badPair = await api.tessera('nodepool', 'create', 'x', '--selector', 'zone');
    expect(badPair.stderr).toContain('must be LABEL=VALUE');
  });
});

describe('tessera node', () => {
  it('labels (set and remove), cordons, uncordons and describes a node', async () => {
    expect(await ok('node', 'label', 'n2', 'rack=r7', 'team=ml')).toContain('rack=r7');
    await ok('node', 'label', 'n2', 'team-');
    expect(getNode(api.db, 'n2')?.adminLabels).toEqual({ rack: 'r7' });
    const bad = await api.tessera('node', 'label', 'n2', 'team');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('KEY=VALUE to set or KEY- to remove');
    expect(await ok('node', 'cordon', 'n2')).toContain('node n2 cordoned');
    expect(getNode(api.db, 'n2')?.cordoned).toBe(true);
    await ok('node', 'uncordon', 'n2');
    expect(getNode(api.db, 'n2')?.cordoned).toBe(false);
    const d = await ok('node', 'describe', 'n2');
    expect(d).toMatch(/Admin labels:\s+rack=r7/);
    expect(d).toMatch(/Labels:\s+gpu\.model=H100/);
    expect(d).toContain('GPU-n2-1');
  });

  it('drain evicts preemptible work, holds non-preemptible work and times out naming it and --force', async () => {
    await ok('project', 'create', 'vision', '--gpu', '4');
    submitBound(api.db, 'w-pre', training('pre'), [['n2', 0]]);
    submitBound(api.db, 'w-keep', { ...training('keep'), priorityClass: 'build' }, [['n2', 1]]);
    const described = await ok('node', 'describe', 'n2');
    expect(described).toMatch(/keep\s+vision\s+keep-0\s+Bound\s+GPU-n2-1:1\s+no/);
    const r = await api.tessera('node', 'drain', 'n2', '--timeout', '0s');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/pre\s+vision\s+pre-0\s+Pending \(queued to be placed elsewhere\)/);
    expect(r.stdout).toMatch(
      /keep\s+vision\s+keep-0\s+non-preemptible: waits until it ends, or drain --force/,
    );
    expect(r.stderr).toContain('node n2 is not drained');
    expect(r.stderr).toContain('--force');
    expect(getPod(api.db, 'w-pre', 'pre-0')?.phase).toBe('Stopping');
    expect(getPod(api.db, 'w-keep', 'keep-0')?.phase).toBe('Bound');
    const forced = JSON.parse(
      (await api.tessera('node', 'drain', 'n2', '--force', '--no-wait', '-o', 'json')).stdout,
    ) as { moved: { pod: string }[]; drained: boolean };
    expect(forced.moved.map((m) => m.pod)).toEqual(['keep-0']);
    expect(forced.drained).toBe(false);
    const badTimeout = await api.tessera('node', 'drain', 'n2', '--timeout', 'soon');
    expect(badTimeout.code).toBe(2);
  });
});
