/**
 * Fault tests over real processes: an agent killed and restarted adopts its pods, an
 * allocator killed and restarted loses nothing, and an agent frozen past the time of a pod whose
 * disconnect policy is `reschedule` has that pod moved without it ever running on two nodes at once
 * (checked from the pods' journals and from the sim GPUs' registered memory). disconnect.test.ts has
 * the default policy, `keep`.
 */
import { describe, expect, it } from 'vitest';
import {
  alive,
  holdsFor,
  overlappingCopies,
  runIntervals,
  startCluster,
  testWorkload,
  until,
} from './harness.ts';
import { useClusterPerTest } from './use-cluster.ts';

const { own } = useClusterPerTest();

describe.sequential('faults', () => {
  it('an agent killed with SIGKILL and restarted adopts its running pods (same pid, one epoch)', async () => {
    // A 20 s lease: the restart must come back within half of it (the fence guard stops the pods of
    // an agent gone that long), and a loaded 2-core runner can take seconds to start an agent.
    const cl = own(await startCluster({ n1: '2xH100-80GB' }, { lease: '20s' }));
    const w = await cl.api.submit(testWorkload(cl, 'adopted'));
    await cl.api.waitPhase(w.id, 'Running');
    const first = await until(() => cl.readJournal('adopted')[0], 'the pod journaling', 10_000);

    await cl.agent('n1').kill();
    const restarted = await cl.startAgent('n1');
    await until(
      () => /agent running/.test(restarted.output()) && restarted.output().includes(first.podId),
      `the restarted agent to report ${first.podId} adopted`,
      15_000,
    );
    await cl.waitNodes(['n1']);
    // Several heartbeats later: still Running, still the same process, never started again.
    await holdsFor(async () => {
      const v = await cl.api.workload(w.id);
      if (v.phase !== 'Running') return `workload left Running: ${v.phase} (${v.phaseReason})`;
      if (!alive(first.pid)) return `the adopted pod process ${first.pid} died`;
      return null;
    }, 3000);
    const runs = runIntervals(cl.readJournal('adopted'));
    expect(runs.map((r) => ({ pid: r.pid, epoch: r.epoch, node: r.node, ended: r.ended }))).toEqual([
      { pid: first.pid, epoch: first.epoch, node: 'n1', ended: false },
    ]);
    // The journal kept ticking through the agent's restart: no gap a restart would leave.
    const ticks = cl.readJournal('adopted').map((l) => l.t);
    const gaps = ticks.slice(1).map((t, i) => t - (ticks[i] ?? t));
    expect(Math.max(...gaps)).toBeLessThan(2000);
    expect((await cl.api.events(w.id)).filter((e) => e.to === 'Running')).toHaveLength(1);
  });

  it('an allocator killed with SIGKILL and restarted keeps workloads, events and quotas; pods stay Running', async () => {
    // A 20 s lease, so the restart (~1.5 s, plus the agent's reconnect backoff) stays inside it and
    // nothing is marked Unknown meanwhile; disconnect.test.ts keeps an allocator down for three leases.
    const cl = own(await startCluster({ n1: '2xH100-80GB' }, { lease: '20s' }));
    await cl.api.createProject('keep-q', 1, 2);
    const done = await cl.api.submit(testWorkload(cl, 'kept-done', { project: 'keep-q', run: { ms: 1500 } }));
    await cl.api.waitPhase(done.id, 'Completed');
    const live = await cl.api.submit(testWorkload(cl, 'kept-live', { project: 'keep-q' }));
    await cl.api.waitPhase(live.id, 'Running');
    const pid = (await until(() => cl.readJournal('kept-live')[0], 'the pod journaling', 10_000)).pid;
    const before = {
      workloads: await cl.api.expect(200, 'GET', '/workloads'),
      doneEvents: await cl.api.events(done.id),
      liveEvents: await cl.api.events(live.id),
      project: await cl.api.expect(200, 'GET', '/projects/keep-q'),
    };

    await cl.alloc?.kill();
    const killedAt = Date.now();
    await cl.startAllocator({ lease: '20s', port: cl.port });
    await cl.waitNodes(['n1']);

    expect(await cl.api.expect(200, 'GET', '/projects/keep-q')).toEqual(before.project);
    expect(await cl.api.events(done.id)).toEqual(before.doneEvents);
    expect((await cl.api.events(live.id)).slice(0, before.liveEvents.length)).toEqual(before.liveEvents);
    const after = (await cl.api.expect(200, 'GET', '/workloads')) as { id: string; phase: string }[];
    const phases = (list: unknown) =>
      (list as { id: string; phase: string }[]).map((w) => `${w.id}:${w.phase}`).sort();
    expect(phases(after)).toEqual(phases(before.workloads));

    // Through several heartbeats of the new allocator: the pod is still the first process.
    await holdsFor(async () => {
      const v = await cl.api.workload(live.id);
      if (v.phase !== 'Running') return `workload left Running: ${v.phase} (${v.phaseReason})`;
      if (!alive(pid)) return `pod process ${pid} died`;
      return null;
    }, 3000);
    const lines = cl.readJournal('kept-live');
    expect(new Set(lines.map((l) => l.pid))).toEqual(new Set([pid]));
    expect(lines.some((l) => l.event === 'end')).toBe(false);
    expect(lines.at(-1)?.t ?? 0).toBeGreaterThan(killedAt + 2000);

    // And it still schedules.
    const next = await cl.api.submit(testWorkload(cl, 'after-restart', { run: { ms: 1500 } }));
    await cl.api.waitPhase(next.id, 'Completed');
  }, 60_000);

  it("an agent frozen past a reschedule pod's time: the pod moves to the other node, its stale copy stops, never twice at once", async () => {
    const cl = own(await startCluster({ n1: '2xH100-80GB' }, { lease: '3s' }));
    // reschedule:10s: the frozen agent cannot stop it at 10 s, its fence guard kills it at 15 s, the
    // allocator places it again at 20 s.
    const w = await cl.api.submit(
      testWorkload(cl, 'moved', { run: { mib: 4096 }, disconnectPolicy: 'reschedule:10s' }),
    );
    await cl.api.waitPhase(w.id, 'Running');
    const first = await until(() => cl.readJournal('moved')[0], 'the pod journaling on n1', 10_000);
    expect(first.node).toBe('n1');
    await cl.startAgent('n2');
    await cl.waitNodes(['n1', 'n2']);

    // One replica: every copy in the journal is the same pod, whatever name a placement gives it.
    const gpus = cl.watchGpus(['n1', 'n2'], 50, 'workload');
    // Only the agent's own pid: its pods are process groups of their own and keep running.
    cl.agent('n1').signal('SIGSTOP');
    const frozenAt = Date.now();
    let frozen = true;
    try {
      const moved = await until(
        async () => {
          const v = await cl.api.workload(w.id);
          return v.pods.some((p) => p.node === 'n2' && p.phase === 'Running') ? v : null;
        },
        'a pod of the workload Running on n2',
        40_000,
      );
      expect(moved.phase).toBe('Running');
      expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(18_000);
      await until(() => cl.readJournal('moved').some((l) => l.node === 'n2'), 'the n2 copy journaling', 5000);
      cl.agent('n1').signal('SIGCONT');
      frozen = false;
      // Thawed, the agent finds itself fenced and stops its stale copy.
      await until(() => !alive(first.pid), `the stale copy on n1 (pid ${first.pid}) to stop`, 10_000);
    } finally {
      if (frozen) cl.agent('n1').signal('SIGCONT');
    }
    await until(
      () => cl.gpuUse('n1').every((u) => u.workload !== 'moved'),
      'n1 GPUs free of the stale copy',
      5000,
    );
    const seen = gpus.stop();
    const lines = cl.readJournal('moved');
    const runs = runIntervals(lines);
    const n2 = runs.find((r) => r.node === 'n2');
    expect(n2?.epoch ?? 0, JSON.stringify(runs)).toBeGreaterThanOrEqual(first.epoch);
    const overlaps = overlappingCopies(lines, () => true);
    const detail = `frozen at ${frozenAt}; runs ${JSON.stringify(runs)}`;
    expect.soft(overlaps, `a pod ran on two nodes at once (journal): ${detail}`).toEqual([]);
    expect(seen.samples).toBeGreaterThan(10);
    expect.soft(seen.doubles, 'a pod held GPU memory on two nodes at once (sim state)').toEqual([]);
    // And the cluster goes on: n1 is back, the moved pod still runs on n2.
    await cl.waitNodes(['n1', 'n2']);
    expect((await cl.api.workload(w.id)).phase).toBe('Running');
  }, 120_000);
});
