/**
 * The swap pool across an agent restart, on real sim workloads: pods swapped out when the agent
 * closes stay checkpointed, and the next agent over the same data dir takes them back into its pool
 * (and can swap them in), while entries that went stale meanwhile are dropped with an event.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/agent.ts';
import { readSimRegistration, SIM_TOOLS, simEnv } from '../../../agent/gpu/sim/spec.ts';
import { swapFilePath } from '../../../agent/swap-file.ts';
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
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close();
  await node?.cleanup();
  node = null;
});

const podOf = (a: Agent, podId: string) => a.status().pods.find((p) => p.podId === podId);

describe.skipIf(process.platform !== 'linux')('swap pool across agent restarts', () => {
  it('a restarted agent takes back the pods left swapped out, and drops the entries gone stale', async () => {
    const n = await simNode('1xH100-80GB');
    node = n;
    const uuid = n.uuid(0);
    const first = await startAgent(n, { swapPoolMiB: 16_384 });
    agents.push(first);
    const pids: Record<string, number> = {};
    for (const [podId, mib] of [
      ['keep', '3000'],
      ['restored', '2000'],
      ['gone', '1000'],
    ] as const) {
      pids[podId] = await startedPid(n, first, workloadPod(podId, uuid, ['--mib', mib], 4096));
    }
    await until(
      () => ['keep', 'restored', 'gone'].every((id) => (podOf(first, id)?.gpuMemoryUsedMiB[uuid] ?? 0) > 0),
      'all three pods sampled',
      5000,
    );
    for (const podId of ['keep', 'restored', 'gone']) {
      const r = await first.swap(podId, 'out');
      expect(r.ok ? 'ok' : r.error.message).toBe('ok');
    }
    const recorded = JSON.parse(readFileSync(swapFilePath(n.dataDir), 'utf8'));
    expect(recorded.entries.map((e: { podId: string }) => e.podId).sort()).toEqual([
      'gone',
      'keep',
      'restored',
    ]);
    await first.close();
    agents.length = 0;

    // While no agent runs: one pod is restored by hand, another's process dies.
    execFileSync(SIM_TOOLS.cudaCheckpoint, ['--toggle', '--pid', String(pids.restored)], {
      env: { ...process.env, ...simEnv(n.simDir) },
    });
    process.kill(pids.gone!, 'SIGKILL');
    await until(() => !alive(pids.gone!), 'the killed pod to be gone', 5000);

    const second = await startAgent(n, { swapPoolMiB: 16_384 });
    agents.push(second);
    expect(eventOf(second, 'swap-adopted', 'keep')?.reason).toBe(
      `pod keep is still swapped out (3000 MiB, pids ${pids.keep}): taken back into the pool`,
    );
    expect(eventOf(second, 'swap-not-adopted', 'restored')?.reason).toBe(
      `stale swap entry dropped: pod restored: pid ${pids.restored} is running, not checkpointed`,
    );
    expect(eventOf(second, 'swap-not-adopted', 'gone')?.reason).toBe(
      'stale swap entry dropped: pod gone is no longer running',
    );
    expect(second.status().swap).toMatchObject({ usedMiB: 3000, pods: [{ podId: 'keep', usedMiB: 3000 }] });
    expect(podOf(second, 'keep')).toMatchObject({ state: 'swapped-out', swappedOut: true, pid: pids.keep });
    expect(podOf(second, 'restored')?.swappedOut).toBe(false);
    // The record already says only what this agent holds.
    const now = JSON.parse(readFileSync(swapFilePath(n.dataDir), 'utf8'));
    expect(now.entries.map((e: { podId: string }) => e.podId)).toEqual(['keep']);

    // And it can bring the pod back, its data intact.
    const back = await second.swap('keep', 'in');
    expect(back.ok ? 'ok' : back.error.message).toBe('ok');
    await until(
      () => /RESTORED restores=1 data=ok/.test(stdoutOf(n, 'keep')),
      'keep to verify its data',
      5000,
    );
    expect((await readSimRegistration(n.simDir, pids.keep!))?.cudaState).toBe('running');
    expect(second.status().swap.usedMiB).toBe(0);
    expect(JSON.parse(readFileSync(swapFilePath(n.dataDir), 'utf8')).entries).toEqual([]);
  });

  it('an agent started without a pool leaves the record for one that has a pool', async () => {
    const n = await simNode('1xH100-80GB');
    node = n;
    const first = await startAgent(n, { swapPoolMiB: 8192 });
    agents.push(first);
    await startedPid(n, first, workloadPod('p', n.uuid(0), ['--mib', '1000'], 4096));
    await until(() => podOf(first, 'p')?.gpuMemoryUsedMiB[n.uuid(0)] === 1000, 'p sampled', 5000);
    expect((await first.swap('p', 'out')).ok).toBe(true);
    await first.close();
    agents.length = 0;

    const off = await startAgent(n);
    agents.push(off);
    expect(eventOf(off, 'swap-not-adopted', 'p')?.reason).toContain('swap is off on this one');
    await off.close();
    agents.length = 0;

    const on = await startAgent(n, { swapPoolMiB: 8192 });
    agents.push(on);
    expect(eventOf(on, 'swap-adopted', 'p')).toBeDefined();
    expect(podOf(on, 'p')?.swappedOut).toBe(true);
  });
});
