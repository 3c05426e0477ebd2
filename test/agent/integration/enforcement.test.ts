/**
 * The agent enforcing GPU shares on REAL child processes under the sim backend: each test has its own
 * sim state and data dir, samples every 100 ms, and drives the agent through its in-process API.
 *
 * Memory in the sim is registrations, so sizes are those of an 80 GB H100 (81080 MiB usable).
 * The reclaim scenario: borrower B holds 50000 MiB on a 20000 MiB request (limit 60000); neighbour A
 * then starts with 1000 MiB on a 40000 MiB request, so A could no longer get its request
 * (free 30080 < needed 39000) and B must give its borrowed memory back.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/agent.ts';
import { readSimRegistration } from '../../../agent/gpu/sim/spec.ts';
import { until } from '../../helpers/wait.ts';
import {
  alive,
  eventOf,
  type SimNode,
  simNode,
  startAgent,
  startedPid,
  stdoutOf,
  workloadPod,
} from './helpers.ts';

let node: SimNode | null = null;
let agent: Agent | null = null;
afterEach(async () => {
  await agent?.close();
  agent = null;
  await node?.cleanup();
  node = null;
});

/** A started pod's pid once launched, tracked for cleanup. */
const started = (n: SimNode, a: Agent, spec: Parameters<Agent['startPod']>[0]): Promise<number> =>
  startedPid(n, a, spec);

const podOf = (a: Agent, podId: string) => a.status().pods.find((p) => p.podId === podId);
const gpuUsedMiB = (a: Agent) => a.status().gpus[0]?.sample?.memoryUsedMiB ?? null;

/** Starts borrower B (50000 MiB on a 20000 MiB request) and waits until the agent has sampled it. */
async function startBorrower(n: SimNode, a: Agent): Promise<number> {
  const pid = await started(n, a, workloadPod('b', n.uuid(0), ['--mib', '50000'], 20_000, 60_000));
  await until(() => podOf(a, 'b')?.gpuMemoryUsedMiB[n.uuid(0)] === 50_000, 'B sampled at 50000 MiB', 5000);
  return pid;
}

describe.skipIf(process.platform !== 'linux')('agent enforcement on sim GPUs', () => {
  it('kills a pod over its GPU memory limit as a GPU OOM with the numbers, and leaves its neighbour alone', async () => {
    node = await simNode('1xH100-80GB');
    agent = await startAgent(node);
    const uuid = node.uuid(0);
    const calmPid = await started(node, agent, workloadPod('calm', uuid, ['--mib', '2000'], 4096));
    const hogPid = await started(
      node,
      agent,
      workloadPod('hog', uuid, ['--mib', '1000', '--grow-mib-per-s', '20000', '--max-mib', '8000'], 4096),
    );
    const a = agent;
    await until(() => podOf(a, 'hog')?.state === 'exited', 'the hog to be killed', 5000);

    const kill = eventOf(agent, 'gpu-oom-kill', 'hog');
    expect(kill?.limitMiB).toBe(4096);
    expect(kill?.usedMiB).toBeGreaterThan(4096);
    expect(kill?.reason).toMatch(
      new RegExp(`^GPU OOM: pod hog used \\d+ MiB on ${uuid}, over its limit of 4096 MiB$`),
    );
    const hog = podOf(agent, 'hog')!;
    expect(hog.signal).toBe('SIGKILL');
    expect(hog.reason).toBe(kill?.reason);
    expect(alive(hogPid)).toBe(false);

    // The neighbour: same pid, still running, never acted on, and its GPU work never interrupted.
    const calm = podOf(agent, 'calm')!;
    expect(calm.pid).toBe(calmPid);
    expect(calm.state).toBe('ready');
    expect(alive(calmPid)).toBe(true);
    expect(agent.events().filter((e) => e.podId === 'calm' && e.kind !== 'pod-state')).toEqual([]);
    expect(stdoutOf(node, 'calm')).not.toMatch(/BLOCKED/);
    expect((await readSimRegistration(node.simDir, calmPid))?.usedMemoryMiB).toBe(2000);
    expect(agent.status().counters.oomKills).toBe(1);
  });

  it('kills a borrower when its neighbour needs its request and swap is off', async () => {
    node = await simNode('1xH100-80GB');
    agent = await startAgent(node);
    const bPid = await startBorrower(node, agent);
    const aPid = await started(node, agent, workloadPod('a', node.uuid(0), ['--mib', '1000'], 40_000));
    const a = agent;
    await until(() => podOf(a, 'b')?.state === 'exited', 'the borrower to be killed', 5000);

    const reclaim = eventOf(agent, 'reclaim-kill', 'b');
    expect(reclaim?.reason).toMatch(/^dynamic fraction reclaim: pod b uses 50000 MiB .* borrowing 30000 MiB/);
    // A's need is 40000 MiB if the sample raced its registration, 39000 once its 1000 MiB are seen.
    expect(reclaim?.reason).toMatch(/pod a needs (39000|40000) MiB more to reach its request/);
    expect(alive(bPid)).toBe(false);
    expect(['running', 'ready']).toContain(podOf(agent, 'a')?.state);
    expect(alive(aPid)).toBe(true);
    expect(agent.status().counters).toMatchObject({ reclaimKills: 1, reclaimSwaps: 0, oomKills: 0 });
  });

  it('swaps a borrower out instead (freeing its sim GPU memory), and swap in restores it with its data intact', async () => {
    node = await simNode('1xH100-80GB');
    agent = await startAgent(node, { swapPoolMiB: 65_536 });
    const bPid = await startBorrower(node, agent);
    await started(node, agent, workloadPod('a', node.uuid(0), ['--mib', '1000'], 40_000));
    const a = agent;
    await until(() => eventOf(a, 'swap-out', 'b'), 'the borrower to be swapped out', 5000);

    // Its memory left the GPU (only A's 1000 MiB remain) and went to the pool; its process lives on, blocked.
    await until(() => gpuUsedMiB(a) === 1000, 'the GPU to show only A', 5000);
    const n = node;
    await until(
      () => /BLOCKED state=(locked|checkpointed)/.test(stdoutOf(n, 'b')),
      'B to block while checkpointed',
      5000,
    );
    expect(podOf(agent, 'b')).toMatchObject({ state: 'swapped-out', swappedOut: true, pid: bPid });
    expect(alive(bPid)).toBe(true);
    expect(agent.status().swap).toMatchObject({ enabled: true, capacityMiB: 65_536, usedMiB: 50_000 });
    expect((await readSimRegistration(node.simDir, bPid))?.hostMemoryMiB).toBe(50_000);

    // Once A is gone there is room again: B comes back, and the workload checks its buffer itself.
    expect((await agent.stopPod('a', 'test done', 1)).ok).toBe(true);
    // The process rows may trail the GPU rows by two samples (sample-grouper.ts): wait until the agent
    // no longer sees A's process either, as swap-in measures the room from them.
    await until(
      () => gpuUsedMiB(a) === 0 && a.status().counters.unknownProcesses === 0,
      'A gone from the samples',
      5000,
    );
    const back = await agent.swap('b', 'in');
    expect(back.ok ? 'ok' : back.error.message).toBe('ok');
    await until(
      () => /RESTORED restores=1 data=ok/.test(stdoutOf(n, 'b')),
      'B to verify its data after restore',
      5000,
    );
    await until(() => gpuUsedMiB(a) === 50_000, 'B back on the GPU', 5000);
    expect(podOf(agent, 'b')).toMatchObject({ state: 'ready', swappedOut: false });
    expect(stdoutOf(node, 'b')).not.toMatch(/CORRUPTED/);
    expect(agent.status().counters).toMatchObject({
      swapsOut: 1,
      swapsIn: 1,
      reclaimSwaps: 1,
      reclaimKills: 0,
    });
    expect(agent.status().swap.usedMiB).toBe(0);
  });

  it('refuses a swap the pool cannot hold with the reason, then kills the borrower', async () => {
    node = await simNode('2xH100-80GB');
    agent = await startAgent(node, { swapPoolMiB: 1024 });
    const bPid = await startBorrower(node, agent);
    await started(node, agent, workloadPod('a', node.uuid(0), ['--mib', '1000'], 40_000));
    const a = agent;
    await until(() => podOf(a, 'b')?.state === 'exited', 'the borrower to be killed after the refusal', 5000);

    expect(eventOf(agent, 'swap-refused', 'b')?.reason).toBe(
      'swap pool full: 0 of 1024 MiB used, pod needs 50000 MiB',
    );
    expect(eventOf(agent, 'reclaim-kill', 'b')?.reason).toContain(
      'swap refused (swap pool full: 0 of 1024 MiB used, pod needs 50000 MiB), killed instead',
    );
    expect(alive(bPid)).toBe(false);

    // Asked through the API, the refusal comes back as the error.
    const cPid = await started(node, agent, workloadPod('c', node.uuid(1), ['--mib', '2000'], 4096));
    await until(() => podOf(a, 'c')?.gpuMemoryUsedMiB[node!.uuid(1)] === 2000, 'C sampled', 5000);
    const r = await agent.swap('c', 'out');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('swap pool full: 0 of 1024 MiB used, pod needs 2000 MiB');
    expect(alive(cPid)).toBe(true);
    expect(agent.status().counters.swapRefusals).toBe(2);
  });

  it('wires the time-slicer: two tenants of one GPU are paused in turn, and none is left stopped', async () => {
    node = await simNode('1xH100-80GB');
    agent = await startAgent(node, { timeSlicing: { mode: 'strict', cycleMs: 200 } });
    const uuid = node.uuid(0);
    const pids = await Promise.all(
      ['x', 'y'].map((id) => started(node!, agent!, workloadPod(id, uuid, ['--mib', '1000'], 2000))),
    );
    const a = agent;
    await until(() => a.status().counters.slicePauses >= 4, 'pauses to be counted', 5000);
    expect(a.events().some((e) => e.kind === 'slice-pause')).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
    expect(Number(/^tessera_timeslice_pauses_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    await agent.close();
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      expect(stat.slice(stat.lastIndexOf(')') + 2)[0]).not.toBe('T');
    }
  });
});
