/**
 * Scheduling decisions carried out by real agents: GPU sharing by fractions, gangs placed
 * whole or not at all, priority preemption inside a project and reclaim between projects.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Cluster, holdsFor, startCluster, testWorkload, until, type WorkloadView } from './harness.ts';

const clusters: Cluster[] = [];
let current: Cluster | null = null;

async function cluster(nodes: Record<string, string>): Promise<Cluster> {
  const c = await startCluster(nodes);
  clusters.push(c);
  current = c;
  return c;
}

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.cleanup()));
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    if (current !== null) process.stderr.write(current.logs());
  });
});

const running = (w: WorkloadView) => w.pods.filter((p) => p.phase === 'Running').length;

describe.sequential('sharing one GPU and preempting on a 1-GPU node', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster({ n1: '1xH100-80GB' });
  }, 30_000);

  it('runs two gpuFraction 0.5 workloads on the same GPU', async () => {
    const half = { gpuFraction: 0.5 };
    const a = await c.api.submit(testWorkload(c, 'half-a', { resources: half, run: { mib: 2048 } }));
    const b = await c.api.submit(testWorkload(c, 'half-b', { resources: half, run: { mib: 2048 } }));
    const ra = await c.api.waitPhase(a.id, 'Running');
    const rb = await c.api.waitPhase(b.id, 'Running');
    const ua = ra.pods[0]?.gpus[0]?.uuid;
    expect(ua).toMatch(/^GPU-/);
    expect(rb.pods[0]?.gpus[0]?.uuid).toBe(ua);
    expect(ra.pods[0]?.gpus[0]?.fraction).toBe(0.5);
    // Both really hold memory on that one sim GPU.
    await until(() => c.gpuUse('n1').filter((u) => u.gpuUuid === ua).length === 2, 'both on the GPU', 10_000);
    for (const w of [a, b]) await c.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
    for (const w of [a, b]) await c.api.waitPhase(w.id, 'Stopped');
  });

  it('preempts a training workload for a higher-priority one; it returns to Pending, then completes', async () => {
    const train = await c.api.submit(testWorkload(c, 'low-train', { run: { ms: 1500 } }));
    await c.api.waitPhase(train.id, 'Running');
    const high = await c.api.submit(
      testWorkload(c, 'high-build', { priorityClass: 'build-preemptible', run: { ms: 1500 } }),
    );
    await until(
      async () => (await c.api.events(train.id)).some((e) => e.to === 'Pending' && e.reason === 'Preempted'),
      'the training workload preempted (event to Pending, reason Preempted)',
      15_000,
    );
    await c.api.waitPhase(high.id, 'Running,Completed');
    await c.api.waitPhase(high.id, 'Completed');
    await c.api.waitPhase(train.id, 'Completed', 20_000);
    // The GPU never ran both: the preemptor's pod started after the victim's copy ended.
    const victim = c.readJournal('low-train');
    const firstCopy = victim.filter((l) => l.pid === victim[0]?.pid);
    const preemptorStart = c.readJournal('high-build')[0]?.t ?? 0;
    expect(firstCopy.at(-1)?.t ?? 0).toBeLessThanOrEqual(preemptorStart);
  });
});

describe.sequential('gangs on two nodes with two GPUs each', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' });
  }, 30_000);

  const gang = (name: string) =>
    testWorkload(c, name, { type: 'distributed', replicas: 4, minReplicas: 4, maxReplicas: 4 });

  it('starts none of a 4-pod gang while only 3 GPUs are free, then all 4 once the 4th frees', async () => {
    const blocker = await c.api.submit(testWorkload(c, 'blocker'));
    await c.api.waitPhase(blocker.id, 'Running');
    const g = await c.api.submit(gang('gang-blocked'));
    await holdsFor(async () => {
      const w = await c.api.workload(g.id);
      const placed = w.pods.filter((p) => p.node !== null && p.phase !== 'Pending');
      if (placed.length > 0) return `a partial gang was placed: ${JSON.stringify(w.pods)}`;
      if (c.readJournal('gang-blocked').length > 0) return 'a gang pod process started';
      return null;
    }, 3000);
    expect((await c.api.workload(g.id)).phase).toBe('Pending');

    await c.api.expect(200, 'POST', `/workloads/${blocker.id}/stop`);
    const all = await c.api.waitPhase(g.id, 'Running', 20_000);
    await until(async () => running(await c.api.workload(g.id)) === 4, 'all 4 pods Running', 10_000);
    expect(new Set(all.pods.map((p) => p.node))).toEqual(new Set(['n1', 'n2']));
    await c.api.expect(200, 'POST', `/workloads/${g.id}/stop`);
    await c.api.waitPhase(g.id, 'Stopped');
  });

  it('starts a 4-pod gang whole on 4 free GPUs across both nodes', async () => {
    const g = await c.api.submit(gang('gang-whole'));
    await c.api.waitPhase(g.id, 'Running', 20_000);
    const w = await until(
      async () => {
        const v = await c.api.workload(g.id);
        return running(v) === 4 ? v : null;
      },
      'all 4 gang pods Running',
      10_000,
    );
    const uuids = w.pods.map((p) => p.gpus[0]?.uuid);
    expect(new Set(uuids).size).toBe(4);
    expect(w.pods.filter((p) => p.node === 'n1')).toHaveLength(2);
    expect(w.pods.filter((p) => p.node === 'n2')).toHaveLength(2);
    await until(
      () => new Set(c.readJournal('gang-whole').map((l) => l.podId)).size === 4,
      'four pod processes journaling',
      10_000,
    );
    await c.api.expect(200, 'POST', `/workloads/${g.id}/stop`);
    await c.api.waitPhase(g.id, 'Stopped');
  });
});

describe.sequential('reclaim between projects on a 2-GPU node', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster({ n1: '2xH100-80GB' });
    await c.api.createProject('team-a', 1);
    await c.api.createProject('team-b', 1);
  }, 30_000);

  it('lets a project below its fair share reclaim a GPU from one above it', async () => {
    const a1 = await c.api.submit(testWorkload(c, 'a-one', { project: 'team-a' }));
    const a2 = await c.api.submit(testWorkload(c, 'a-two', { project: 'team-a' }));
    await c.api.waitPhase(a1.id, 'Running');
    await c.api.waitPhase(a2.id, 'Running');

    const b = await c.api.submit(testWorkload(c, 'b-one', { project: 'team-b', run: { ms: 60_000 } }));
    await c.api.waitPhase(b.id, 'Running', 20_000);
    const reclaimed = await until(
      async () => {
        for (const w of [a1, a2]) {
          const ev = await c.api.events(w.id);
          if (ev.some((e) => e.to === 'Pending' && e.reason === 'Reclaimed')) return w;
        }
        return null;
      },
      "one of team-a's workloads reclaimed (event to Pending, reason Reclaimed)",
      10_000,
    );
    const other = reclaimed.id === a1.id ? a2 : a1;
    expect((await c.api.workload(reclaimed.id)).phase).toBe('Pending');
    expect((await c.api.workload(other.id)).phase).toBe('Running');
    // No ping-pong: B keeps its GPU over the next cycles.
    await holdsFor(async () => {
      const w = await c.api.workload(b.id);
      return w.phase === 'Running' ? null : `team-b's workload left Running: ${w.phase} (${w.phaseReason})`;
    }, 2000);
  });
});
