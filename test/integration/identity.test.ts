/**
 * Node identity over real processes: a second agent started with the cluster's join token and the
 * name of a running node is refused and changes nothing (the node keeps its session, its pod keeps
 * its pid, new work lands on the real node); `tessera node reset` revokes the node's credential and
 * its agent registers the name again with its join token, its pod still the same process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initSimState, parseSimGpus } from '../../agent/gpu/sim/spec.ts';
import { runTessera } from '../cli-run.ts';
import {
  alive,
  type Cluster,
  holdsFor,
  Proc,
  runIntervals,
  startCluster,
  testWorkload,
  until,
} from './harness.ts';

let c: Cluster | undefined;
const cluster = (): Cluster => {
  if (c === undefined) throw new Error('the cluster has not started');
  return c;
};

beforeAll(async () => {
  // A 20 s lease: the agent fences itself after 10 s of silence, far longer than a reset's rejoin.
  c = await startCluster({ n1: '2xH100-80GB' }, { lease: '20s' });
}, 30_000);
afterAll(async () => {
  await c?.cleanup();
});
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    if (c !== undefined) process.stderr.write(c.logs());
  });
});

/** The credential the node's agent saved in its data dir. */
const savedCredential = (cl: Cluster): string =>
  (
    JSON.parse(readFileSync(join(cl.nodeDirs('n1').data, 'node-credential.json'), 'utf8')) as {
      credential: string;
    }
  ).credential;

/** Null while the workload runs as the process `pid`; otherwise what changed. */
async function stillRunning(cl: Cluster, id: string, pid: number): Promise<string | null> {
  const v = await cl.api.workload(id);
  if (v.phase !== 'Running') return `workload left Running: ${v.phase} (${v.phaseReason})`;
  if (!alive(pid)) return `pod process ${pid} died`;
  return null;
}

describe.sequential('node identity', () => {
  let workload = '';
  let pid = 0;

  it('refuses a second agent joining with the name of a running node; the node and its pod are untouched', async () => {
    const cl = cluster();
    const w = await cl.api.submit(testWorkload(cl, 'kept'));
    workload = w.id;
    await cl.api.waitPhase(w.id, 'Running');
    pid = (await until(() => cl.readJournal('kept')[0], 'the pod journaling', 10_000)).pid;
    const credential = savedCredential(cl);

    const dir = join(cl.root, 'impostor');
    const specs = parseSimGpus('2xH100-80GB');
    if (!specs.ok) throw new Error(specs.error.message);
    await initSimState(join(dir, 'sim'), specs.value, { seed: 'it-impostor' });
    const impostor = new Proc('impostor n1', [
      'agent',
      '--gpu',
      'sim',
      '--sim-state',
      join(dir, 'sim'),
      '--data',
      join(dir, 'data'),
      '--pod-root',
      join(dir, 'pods'),
      '--cgroup-parent',
      `${cl.cgroupParent}/impostor`,
      '--allocator',
      cl.url,
      '--token',
      cl.joinToken,
      '--node',
      'n1',
      '--log-level',
      'info',
    ]);
    try {
      await until(
        () => impostor.output().includes('n1 is already registered'),
        'the impostor refused',
        15_000,
      );
      expect(impostor.output()).toContain('tessera node reset n1');
      // Several heartbeats on: the pod is still the first process and the node never left.
      await holdsFor(async () => {
        const why = await stillRunning(cl, workload, pid);
        if (why !== null) return why;
        const nodes = (await cl.api.expect(200, 'GET', '/nodes')) as { name: string; lost: boolean }[];
        return nodes.some((n) => n.name === 'n1' && !n.lost) ? null : 'n1 lost';
      }, 3000);
      expect(cl.agent('n1').output()).not.toContain('replaced by a newer connection');
      // The real agent's credential was neither replaced nor revoked: it still connects with it.
      expect(savedCredential(cl)).toBe(credential);

      // The next work placed on n1 runs on the real node's GPUs, not the impostor's.
      const next = await cl.api.submit(testWorkload(cl, 'next', { run: { ms: 1000 } }));
      await cl.api.waitPhase(next.id, 'Completed');
      expect(cl.readJournal('next').map((l) => l.node)).toContain('n1');
      expect(cl.readJournal('next').map((l) => l.node)).not.toContain('impostor');
    } finally {
      await impostor.kill();
    }
    expect(runIntervals(cl.readJournal('kept')).map((r) => r.pid)).toEqual([pid]);
  });

  it('tessera node reset revokes the credential; the agent joins again with its join token, its pod kept', async () => {
    const cl = cluster();
    const before = savedCredential(cl);
    const r = await runTessera(['node', 'reset', 'n1'], ['--url', cl.url, '--token', cl.adminToken]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/node n1 reset: \d+ credentials? revoked, its session closed/);
    await until(
      () => cl.agent('n1').output().includes('joining with the configured token'),
      'the agent to fall back to its join token',
      15_000,
    );
    await cl.waitNodes(['n1']);
    await until(() => savedCredential(cl) !== before, 'a new credential saved', 10_000);
    await holdsFor(() => stillRunning(cl, workload, pid), 3000);
    expect(runIntervals(cl.readJournal('kept')).map((r) => r.pid)).toEqual([pid]);
  });
});
