/**
 * The fence guard with a real agent process (`node bin/tessera.js agent --allocator ...`) linked to an
 * in-test allocator: while linked the agent keeps `fence-deadline.json` moving and one guard runs; an
 * agent frozen with SIGSTOP past a `reschedule` pod's deadline has that pod killed by the guard before
 * the allocator may replace it, and once continued reports it `lease lost` (so the allocator replaces
 * it, never fails it), while its `keep` pod runs on; a clean stop disarms the deadline and the guard
 * leaves with its agent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runningGuardPid } from '../../../agent/fence-guard-start.ts';
import { type FenceDeadline, fenceDeadlinePath } from '../../../agent/link/guard-file.ts';
import { guardFencedPath, readGuardFenced } from '../../../agent/runner/guard-record.ts';
import type { StartPod, WirePodStatus } from '../../../common/wire.ts';
import { until } from '../../helpers/wait.ts';
import { noContainer } from '../../wire-pod-spec.ts';
import { type Conn, fakeAllocator, hellos, statuses } from '../link/fixtures.ts';
import { agentRuntimeFlags } from '../runtime/helpers.ts';
import { alive } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function signalQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Kills every process whose environment names `simDir` (pods, sampler streams), as restart.test.ts does. */
function killSimProcesses(simDir: string): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`TESSERA_SIM_STATE=${simDir}`)) {
        process.kill(Number(name), 'SIGKILL');
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
}

function readDeadline(dataDir: string): FenceDeadline | null {
  try {
    return JSON.parse(readFileSync(fenceDeadlinePath(dataDir), 'utf8')) as FenceDeadline;
  } catch {
    return null;
  }
}

const startPod = (podId: string, epoch: number, rescheduleAfterMs: number | null): StartPod => ({
  podId,
  epoch,
  spec: {
    workload: podId,
    project: 'team-a',
    command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    env: {},
    networkEnv: {},
    workingDir: null,
    priority: 50,
    graceSeconds: 10,
    readiness: { linePrefix: null, delayMs: 100, probe: null },
    rescheduleAfterMs,
    ...noContainer(),
  },
  gpuGrants: [],
});

/** The newest state of `podId` any connection reported. */
function reported(conns: Conn[], podId: string): WirePodStatus | undefined {
  return conns
    .flatMap((c) => statuses(c))
    .flatMap((s) => s.podStates)
    .filter((p) => p.podId === podId)
    .at(-1);
}

describe.skipIf(process.platform !== 'linux')('fence guard with a real agent', () => {
  it('stops the pods of an agent frozen past its deadline; the agent, continued, reports them lease lost', async () => {
    const root = join(tmpdir(), `tessera-fence-guard-${process.pid}-${Date.now()}`);
    const dataDir = join(root, 'data');
    mkdirSync(root, { recursive: true });
    const runtime = agentRuntimeFlags(root);
    cleanups.push(async () => {
      killSimProcesses(runtime.simDir);
      await runtime.cleanup();
      rmSync(root, { recursive: true, force: true });
    });
    const alloc = await fakeAllocator();
    cleanups.push(() => alloc.close());

    const args = [
      BIN,
      'agent',
      '--gpu',
      'sim',
      '--sim-gpus',
      '1xH100-80GB',
      '--data',
      dataDir,
      ...runtime.args,
    ];
    args.push('--sample-interval', '200ms', '--port', '0', '--log-level', 'warn');
    args.push('--allocator', alloc.url, '--token', 'join-secret', '--node', 'node-a');
    const agent: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    agent.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const agentPid = agent.pid ?? 0;
    cleanups.push(() => {
      signalQuietly(agentPid, 'SIGCONT');
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    });

    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length > 0, 'a Hello', 20_000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    // The pod's reschedule time is 1000 ms: the agent fences it at 1000, the guard (half the 10 s
    // margin later) at 6000 with 2000 ms of grace, all before the allocator may replace it at 11000.
    alloc.send(c, {
      case: 'welcome',
      value: { nodeId: 'n-1', heartbeatMs: 200, leaseMs: 3000, desiredPods: [], nodeCredential: null },
    });
    let answering = true;
    const acks = setInterval(() => {
      if (!answering) return;
      for (const conn of alloc.conns) alloc.send(conn, { case: 'ack', value: { seq: 1 } });
    }, 100);
    cleanups.push(() => clearInterval(acks));
    alloc.send(c, { case: 'startPod', value: startPod('train-0', 1, 1000) });
    alloc.send(c, { case: 'startPod', value: startPod('serve-0', 1, null) });
    const pidOf = async (podId: string): Promise<number> => {
      const running = await until(
        () => {
          const p = reported(alloc.conns, podId);
          return p !== undefined && p.pid !== null && (p.state === 'running' || p.state === 'ready')
            ? p
            : null;
        },
        `${podId} running`,
        5000,
      );
      return running.pid ?? 0;
    };
    const podPid = await pidOf('train-0');
    const keptPid = await pidOf('serve-0');

    // Linked: one guard, and a deadline that moves with every frame heard.
    const guardPid = await until(() => runningGuardPid(dataDir), 'the fence guard', 5000);
    cleanups.push(() => signalQuietly(guardPid, 'SIGKILL'));
    const first = await until(() => readDeadline(dataDir), 'the deadline file', 5000);
    expect(first.agentPid).toBe(agentPid);
    expect(first.baseDeadlineMs).toBeGreaterThan(Date.now());
    expect(first.killGraceMs).toBe(2000);
    await until(
      () => (readDeadline(dataDir)?.baseDeadlineMs ?? 0) > (first.baseDeadlineMs ?? 0),
      'the deadline moving',
      5000,
    );

    // Frozen: nobody in the agent can fence; the allocator would replace train-0 11 s after it last heard.
    answering = false;
    signalQuietly(agentPid, 'SIGSTOP');
    const frozenAt = Date.now();
    await until(() => !alive(podPid), 'the guard to stop the pod', 12_000);
    expect(Date.now() - frozenAt).toBeLessThan(9000);
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(5000);
    expect(alive(keptPid)).toBe(true);
    expect(readGuardFenced(guardFencedPath(dataDir))).toEqual([
      { podId: 'train-0', epoch: 1, atMs: expect.any(Number) },
    ]);

    signalQuietly(agentPid, 'SIGCONT');
    answering = true;
    const ended = await until(
      () => {
        const p = reported(alloc.conns, 'train-0');
        return p !== undefined && p.state === 'exited' ? p : null;
      },
      'the end reported',
      5000,
    );
    // Continued, the agent's own fence timer usually fires before the pod's exit is reaped, so the
    // reason is its own `lease lost: cut off ...`; otherwise the guard's record gives `lease lost: the
    // fence guard ...` (test/agent/runner/guard-record.test.ts). Either way the allocator replaces it.
    expect(ended.reason).toMatch(/^lease lost/);

    // A clean stop disarms the deadline; the guard then leaves with its agent.
    agent.kill('SIGTERM');
    await until(() => agent.exitCode !== null || agent.signalCode !== null, 'the agent to stop', 10_000);
    expect(agent.exitCode, stderr).toBe(0);
    expect(readDeadline(dataDir)).toMatchObject({ baseDeadlineMs: null, agentPid });
    // The keep pod outlived the freeze and the agent: the next agent adopts it.
    expect(alive(keptPid)).toBe(true);
    signalQuietly(-keptPid, 'SIGKILL');
    await until(() => !alive(guardPid), 'the guard to exit');
  }, 60_000);
});
