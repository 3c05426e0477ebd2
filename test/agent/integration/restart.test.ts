/**
 * The agent as a real process (`node bin/tessera.js agent --gpu sim ...`), killed with SIGKILL mid-run
 * and started again over the same data dir: its pods live on, the new agent adopts them (same pids,
 * nothing started twice although the same --pods file is given again), and `tessera health` in between
 * reports the agent down from its stale state file while still probing the GPUs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../agent/api.ts';
import { SIM_TOOLS } from '../../../agent/gpu/sim/spec.ts';
import { readStateFile } from '../../../agent/state-file.ts';
import { bufferIo } from '../../../cli/io.ts';
import { runCli } from '../../../cli/program.ts';
import { until } from '../../helpers/wait.ts';
import { agentRuntimeFlags } from '../runtime/helpers.ts';
import { alive } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

const agents: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  for (const c of cleanups.splice(0)) await c();
});

/** Kills every process whose environment names `simDir`: pods, and sampling streams a SIGKILLed agent orphaned. */
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

function startAgentProcess(dataDir: string, podsFile: string, runtimeArgs: string[]): ChildProcess {
  const args = [BIN, 'agent', '--gpu', 'sim', '--sim-gpus', '2xH100-80GB', '--data', dataDir, ...runtimeArgs];
  args.push('--sample-interval', '200ms', '--port', '0', '--pods', podsFile, '--log-level', 'warn');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`agent exited ${code}: ${stderr}`);
  });
  agents.push(child);
  return child;
}

/** The `/status` of the agent with process id `pid`, once it serves one with both pods running. */
async function liveStatus(dataDir: string, pid: number): Promise<AgentStatus> {
  return until(
    async () => {
      const state = await readStateFile(dataDir);
      if (!state.ok || state.value === null || state.value.pid !== pid || state.value.port === null)
        return null;
      const res = await fetch(`http://127.0.0.1:${state.value.port}/status`).catch(() => null);
      const status = res?.ok ? ((await res.json()) as AgentStatus) : null;
      const running = status?.pods.filter((p) => p.state === 'ready' && p.pid !== null) ?? [];
      return running.length === 2 ? status : null;
    },
    `agent ${pid} serving /status with both pods ready`,
    15_000,
  );
}

describe.skipIf(process.platform !== 'linux')('agent process restart', () => {
  it('a SIGKILLed agent, started again, adopts its running pods: same pids, none duplicated', async () => {
    const root = join(tmpdir(), `tessera-restart-${process.pid}-${Date.now()}`);
    const dataDir = join(root, 'data');
    mkdirSync(root, { recursive: true });
    const runtime = agentRuntimeFlags(root);
    cleanups.push(async () => {
      killSimProcesses(runtime.simDir);
      await runtime.cleanup();
      rmSync(root, { recursive: true, force: true });
    });
    const podsFile = join(root, 'pods.json');
    const pod = (podId: string, index: number) => ({
      podId,
      project: 'team-a',
      command: [process.execPath, SIM_TOOLS.workload, '--mib', '1000'],
      grants: [{ index, gpuMilli: 500, memoryMiB: '2GiB' }],
      graceSeconds: 1,
    });
    writeFileSync(podsFile, JSON.stringify([pod('p0', 0), pod('p1', 1)]));

    const first = startAgentProcess(dataDir, podsFile, runtime.args);
    const before = await liveStatus(dataDir, first.pid!);
    const pids = Object.fromEntries(before.pods.map((p) => [p.podId, p.pid]));
    expect(Object.keys(pids).sort()).toEqual(['p0', 'p1']);
    expect(before.pods.every((p) => p.grants[0]?.memoryLimitMiB === 2048)).toBe(true);

    first.kill('SIGKILL');
    await until(() => first.exitCode !== null || first.signalCode !== null, 'the agent to die', 5000);
    for (const pid of Object.values(pids)) expect(alive(pid!)).toBe(true);

    // Agent down: health says so from the stale state file, still probes the GPUs, lists the last-known pods.
    const io = bufferIo();
    const code = await runCli(['health', '--data', dataDir, '-o', 'json'], io);
    expect(code).toBe(0);
    const report = JSON.parse(io.stdout);
    expect(report.level).toBe('degraded');
    expect(report.gpus).toHaveLength(2);
    expect(report.agent.running).toBe(false);
    expect(report.agent.message).toMatch(
      new RegExp(`^not running \\(state file ${join(dataDir, 'agent-state.json')} is \\d+s old\\)$`),
    );
    expect(report.agent.view.pods.map((p: { podId: string }) => p.podId).sort()).toEqual(['p0', 'p1']);

    const second = startAgentProcess(dataDir, podsFile, runtime.args);
    const after = await liveStatus(dataDir, second.pid!);
    expect(after.pods).toHaveLength(2);
    for (const p of after.pods) {
      expect(p.pid).toBe(pids[p.podId]);
      expect(p.adopted).toBe(true);
      // Grants came back from the checkpoint, and the adopted pids are attributed their GPU memory again.
      expect(p.grants[0]?.memoryMiB).toBe(2048);
    }
    await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${after.agent.port}/status`);
        const s = (await res.json()) as AgentStatus;
        return s.pods.every((p) => Object.values(p.gpuMemoryUsedMiB)[0] === 1000);
      },
      'adopted pods attributed their memory',
      5000,
    );
    // Exactly two workloads hold sim GPU memory: nothing was started a second time.
    const registered = readdirSync(join(runtime.simDir, 'procs')).filter((f) => /^\d+\.json$/.test(f));
    expect(
      registered
        .map((f) => Number(f.slice(0, -5)))
        .filter(alive)
        .sort(),
    ).toEqual(Object.values(pids).sort());

    second.kill('SIGTERM');
    await until(() => second.exitCode !== null, 'the agent to exit on SIGTERM', 5000);
    expect(second.exitCode).toBe(0);
    for (const pid of Object.values(pids)) expect(alive(pid!)).toBe(true);
  });
});
