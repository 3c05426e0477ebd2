/**
 * The admin commands against a real allocator and two sim agents, through the CLI: a department
 * and a project with quotas in two node pools, a node labelled into a pool, cordon, and a drain end
 * to end: preemptible work leaves the drained node and runs on the other, non-preemptible work stays
 * until the drain is forced, and the drained node is left empty.
 */
import { describe, expect, it } from 'vitest';
import type { DrainResult } from '../../cli/commands/node-drain.ts';
import { podCommand, until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const { cluster, tessera } = useCluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' });

async function ok(...args: string[]): Promise<string> {
  const r = await tessera(...args);
  expect(r.code, `tessera ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Submits a one-GPU training that runs until stopped, through the runai verb and flag names. */
async function submit(name: string, ...flags: string[]): Promise<string> {
  const c = cluster();
  const out = await ok(
    'training',
    'submit',
    name,
    '-p',
    'vision',
    '-g',
    '1',
    '--node-pools',
    'default',
    '--node-pools',
    'pool-b',
    '--environment',
    `JOURNAL=${c.journal(name)}`,
    ...flags,
    '-o',
    'json',
    '--',
    ...podCommand(),
  );
  return (JSON.parse(out) as { id: string }).id;
}

/** The nodes a workload's running pods are on, once it is Running. */
async function runningOn(id: string): Promise<string[]> {
  const w = await cluster().api.waitPhase(id, 'Running', 30_000);
  return w.pods.filter((p) => p.phase === 'Running').map((p) => p.node ?? '-');
}

/** Waits until the workload runs, with all its running pods on `node`. */
async function movesTo(id: string, node: string): Promise<void> {
  await until(
    async () => {
      const w = await cluster().api.workload(id);
      const on = w.pods.filter((p) => p.phase === 'Running').map((p) => p.node);
      return w.phase === 'Running' && on.length > 0 && on.every((n) => n === node) ? true : undefined;
    },
    `workload ${id} running on ${node}`,
    30_000,
  );
}

describe.sequential('administration over real processes', () => {
  it('sets up a department, a project and a node pool with quotas in two pools', async () => {
    await ok('department', 'create', 'research', '--gpu', '4');
    await ok('nodepool', 'create', 'pool-b', '--selector', 'zone=b', '--placement', 'spread');
    await ok('node', 'label', 'n2', 'zone=b');
    expect(await ok('nodepool', 'describe', 'pool-b')).toMatch(/Nodes:\s+n2\n/);
    expect(await ok('node', 'list')).toMatch(/n2\s+pool-b\s+2\s+ready/);
    await ok('department', 'update', 'research', '--node-pool', 'pool-b', '--gpu', '2');
    await ok('project', 'create', 'vision', '--department', 'research', '--gpu', '2');
    await ok('project', 'update', 'vision', '--node-pool', 'pool-b', '--gpu', '2');
    const dept = JSON.parse(await ok('department', 'describe', 'research', '-o', 'json')) as {
      quotas: { nodePool: string; gpu: number }[];
      projects: string[];
    };
    expect(dept.quotas.map((q) => [q.nodePool, q.gpu])).toEqual([
      ['default', 4],
      ['pool-b', 2],
    ]);
    expect(dept.projects).toEqual(['vision']);
  });

  it('drains a node: preemptible work moves, non-preemptible work waits for --force, the node ends empty', async () => {
    // Both start on n1: n2 is cordoned until they run.
    await ok('node', 'cordon', 'n2');
    const pre = await submit('pre');
    const keep = await submit('keep', '--non-preemptible');
    expect(await runningOn(pre)).toEqual(['n1']);
    expect(await runningOn(keep)).toEqual(['n1']);
    await ok('node', 'uncordon', 'n2');

    const first = await tessera('node', 'drain', 'n1', '--timeout', '5s', '-o', 'json');
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain('drain with --force');
    const report = JSON.parse(first.stdout) as DrainResult;
    expect(report.moved.map((m) => m.workload)).toEqual(['pre']);
    expect(report.left).toEqual(
      expect.arrayContaining([expect.objectContaining({ workload: 'keep', hold: 'non-preemptible' })]),
    );
    // The preemptible training was placed again, on the node that is not draining.
    await movesTo(pre, 'n2');
    expect(await runningOn(keep)).toEqual(['n1']);

    const forced = JSON.parse(
      await ok('node', 'drain', 'n1', '--force', '--timeout', '60s', '-o', 'json'),
    ) as DrainResult;
    expect(forced.drained).toBe(true);
    expect(forced.left).toEqual([]);
    expect(forced.moved.map((m) => m.workload)).toEqual(['keep']);
    await movesTo(keep, 'n2');
    const n1 = JSON.parse(await ok('node', 'describe', 'n1', '-o', 'json')) as {
      cordoned: boolean;
      pods: unknown[];
    };
    expect(n1).toMatchObject({ cordoned: true, pods: [] });
  });

  it('lists the moved work with the runai verbs and deletes the pool, its node back in default', async () => {
    const list = await ok('training', 'list', '-A', '-o', 'wide');
    expect(list).toMatch(/keep\s+vision\s+training\s+Running.*n2/);
    expect(list).toMatch(/pre\s+vision\s+training\s+Running.*n2/);
    await ok('nodepool', 'delete', 'pool-b');
    expect(await ok('node', 'list')).toMatch(/n2\s+default\s+2\s+ready/);
    await ok('node', 'uncordon', 'n1');
  });
});
