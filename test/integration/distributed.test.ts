/**
 * A real rendezvous over loopback: examples/distributed/ring-allreduce.mjs as a distributed workload
 * of 4 pods over 2 nodes, each pod finding the others from the variables the allocator gives it
 * (RANK, WORLD_SIZE, TESSERA_PEERS, TESSERA_PORT_RENDEZVOUS: a host port per pod from its node's
 * range), submitted through the CLI. Then restartPolicy OnFailure: a pod killed mid-run restarts the
 * whole gang once, and the second attempt completes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Cluster, until } from './harness.ts';
import { environOf, processesUnder } from './procs.ts';
import { useCluster } from './use-cluster.ts';

const RING = fileURLToPath(new URL('../../examples/distributed/ring-allreduce.mjs', import.meta.url));

const { cluster, tessera } = useCluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' });

/**
 * Submits a 4-pod ring (one GPU each, so two per node) holding `holdMs` mid-run through the CLI, with
 * `flags` added; its workload id.
 */
async function submitRing(
  c: Cluster,
  name: string,
  holdMs: number,
  flags: readonly string[] = [],
): Promise<string> {
  const args = ['submit', 'distributed', name, '-p', c.defaultProject, '--replicas', '4', '--gpu', '1'];
  // JOURNAL is unused by the script: it marks the pods as this cluster's, for cleanup and lookup.
  args.push(
    '-e',
    `JOURNAL=${c.journal(name)}`,
    ...flags,
    '--',
    process.execPath,
    RING,
    '--hold-ms',
    String(holdMs),
  );
  const submitted = await tessera(...args);
  expect(submitted.code, submitted.stderr).toBe(0);
  const shown = await tessera('describe', name, '-p', c.defaultProject, '-o', 'json');
  return (JSON.parse(shown.stdout) as { id: string }).id;
}

/** The live ring processes of workload `name`, by their RANK. */
function ringPids(c: Cluster, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of processesUnder(c.root)) {
    const env = environOf(pid);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const rank = env.get('RANK');
    if (env.get('JOURNAL') === c.journal(name) && cmdline.includes('ring-allreduce') && rank !== undefined)
      out.set(rank, pid);
  }
  return out;
}

describe('distributed rendezvous', () => {
  it('4 pods over 2 nodes form a ring from the rendezvous variables and all-reduce the right sum', async () => {
    const c = cluster();
    const id = await submitRing(c, 'ring', 0);
    const done = await c.api.waitPhase(id, 'Completed,Failed', 60_000);
    expect(done.phase).toBe('Completed');
    expect(done.pods.map((p) => p.exitCode)).toEqual([0, 0, 0, 0]);
    expect(new Set(done.pods.map((p) => p.node))).toEqual(new Set(['n1', 'n2']));
  }, 90_000);

  it('restartPolicy OnFailure: a pod killed mid-run restarts the gang once, and it completes', async () => {
    const c = cluster();
    const id = await submitRing(c, 'ring-restart', 4000, [
      '--restart-policy',
      'OnFailure',
      '--backoff-limit',
      '1',
    ]);

    await c.api.waitPhase(id, 'Running', 30_000);
    const first = await until(
      () => {
        const pids = ringPids(c, 'ring-restart');
        return pids.size === 4 ? pids : null;
      },
      'the 4 ring processes',
      15_000,
    );
    process.kill(first.get('2') ?? 0, 'SIGKILL');

    const done = await c.api.waitPhase(id, 'Completed,Failed', 90_000);
    const events = await c.api.events(id);
    expect(done.phase, JSON.stringify(events)).toBe('Completed');
    expect((done as unknown as { restarts: number }).restarts).toBe(1);
    const restarting = events.filter((e) => e.reason === 'Restarting');
    expect(restarting).toHaveLength(1);
    expect(restarting[0]?.message).toMatch(
      /^restarting: pod ring-restart-\d+ failed \(.+\); restart 1 of 1$/,
    );
    // The second attempt ran as 4 new pods, all exiting 0; the first attempt's pods ended.
    const exits = done.pods.filter((p) => p.phase === 'Succeeded').map((p) => p.exitCode);
    expect(exits).toEqual([0, 0, 0, 0]);
    expect(done.pods.filter((p) => p.phase === 'Stopped')).toHaveLength(4);
  }, 150_000);
});
