/**
 * The default disconnect policy, `keep`, over real processes: an allocator outage never stops running
 * work, and a node cut off past its lease has its pods shown Unknown (the workload Degraded) with no
 * replacement anywhere, until the node reports again. faults.test.ts has `reschedule`.
 */
import { describe, expect, it } from 'vitest';
import { alive, holdsFor, startCluster, testWorkload, until } from './harness.ts';
import { useClusterPerTest } from './use-cluster.ts';

const { own } = useClusterPerTest();

describe.sequential('disconnect policy keep', () => {
  it('an allocator down for three leases, then back: the pods ran on, same pids, nothing duplicated', async () => {
    const cl = own(await startCluster({ n1: '2xH100-80GB' }, { lease: '3s' }));
    const a = await cl.api.submit(testWorkload(cl, 'outage-a'));
    const b = await cl.api.submit(testWorkload(cl, 'outage-b'));
    await cl.api.waitPhase(a.id, 'Running');
    await cl.api.waitPhase(b.id, 'Running');
    const pidOf = async (name: string) =>
      (await until(() => cl.readJournal(name)[0], `${name} journaling`, 10_000)).pid;
    const pids = { a: await pidOf('outage-a'), b: await pidOf('outage-b') };

    await cl.alloc?.kill();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 10_000));
    expect(alive(pids.a) && alive(pids.b)).toBe(true);
    await cl.startAllocator({ lease: '3s', port: cl.port });
    await cl.waitNodes(['n1']);

    // A restarted allocator gives every node a full lease: nothing goes Unknown, nothing is replaced.
    await holdsFor(async () => {
      for (const [w, pid] of [
        [a, pids.a],
        [b, pids.b],
      ] as const) {
        const v = await cl.api.workload(w.id);
        if (v.phase !== 'Running') return `${v.name} left Running: ${v.phase} (${v.phaseReason})`;
        if (v.pods.length !== 1) return `${v.name} has ${v.pods.length} pods`;
        if (!alive(pid)) return `${v.name}'s pod process ${pid} died`;
      }
      return null;
    }, 5000);
    for (const name of ['outage-a', 'outage-b'] as const) {
      const lines = cl.readJournal(name);
      expect(new Set(lines.map((l) => l.pid)), name).toEqual(
        new Set([pids[name === 'outage-a' ? 'a' : 'b']]),
      );
      expect(
        lines.some((l) => l.event === 'end'),
        name,
      ).toBe(false);
      expect(lines.at(-1)?.t ?? 0).toBeGreaterThan(downAt + 9000);
    }
  }, 90_000);

  it('an agent frozen past its lease: its pod goes Unknown, the workload Degraded, no replacement; back to Running on resume', async () => {
    const cl = own(await startCluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' }, { lease: '3s' }));
    const w = await cl.api.submit(testWorkload(cl, 'kept', { run: { mib: 2048 } }));
    await cl.api.waitPhase(w.id, 'Running');
    const first = await until(() => cl.readJournal('kept')[0], 'the pod journaling', 10_000);
    const node = first.node;
    const other = node === 'n1' ? 'n2' : 'n1';

    cl.agent(node).signal('SIGSTOP');
    let frozen = true;
    try {
      const degraded = await until(
        async () => {
          const v = await cl.api.workload(w.id);
          return v.phase === 'Degraded' ? v : null;
        },
        'the workload Degraded',
        15_000,
      );
      expect(degraded.phaseReason).toBe('NodeUnreachable');
      expect(degraded.pods.map((p) => [p.node, p.phase])).toEqual([[node, 'Unknown']]);
      // Three more leases: still nothing placed on the healthy node, and the pod still runs.
      await holdsFor(async () => {
        const v = await cl.api.workload(w.id);
        if (v.pods.length !== 1) return `a replacement was placed: ${JSON.stringify(v.pods)}`;
        if (cl.gpuUse(other).some((u) => u.workload === 'kept')) return `memory held on ${other}`;
        if (!alive(first.pid)) return `the pod process ${first.pid} died`;
        return null;
      }, 9000);
      cl.agent(node).signal('SIGCONT');
      frozen = false;
    } finally {
      if (frozen) cl.agent(node).signal('SIGCONT');
    }
    const back = await cl.api.waitPhase(w.id, 'Running', 20_000);
    expect(back.pods.map((p) => [p.node, p.phase])).toEqual([[node, 'Running']]);
    expect(alive(first.pid)).toBe(true);
    expect(new Set(cl.readJournal('kept').map((l) => l.pid))).toEqual(new Set([first.pid]));
  }, 90_000);
});
