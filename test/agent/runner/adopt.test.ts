import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointPath } from '../../../agent/runner/checkpoint.ts';
import { fileSize, logPath } from '../../../agent/runner/logs.ts';
import { groupPids, isLiveProcess, processStartTime, readProcStat } from '../../../agent/runner/proc.ts';
import { REASON_EXITED_ADOPTED, REASON_EXITED_WHILE_DOWN } from '../../../agent/runner/runner.ts';
import type { PodStatus } from '../../../agent/runner/types.ts';
import { until } from '../../helpers/wait.ts';
import { failure, type Harness, harness, launched, NODE_BIN, podSpec, value } from './helpers.ts';

let h: Harness;
afterEach(() => h.cleanup());

const sh = (script: string): string[] => ['/bin/sh', '-c', script];
const TICKING = 'echo READY; while :; do echo tick; sleep 0.02; done';
const FOREVER = 'while :; do sleep 0.05; done';

/**
 * A version-1 checkpoint (before runtimes: `pid` and `pgid`, no ref) recording one running pod with
 * the given process identity: an upgraded agent reads it as a process ref without a cgroup.
 */
function legacyCheckpoint(pid: number, startTimeTicks: number): string {
  return JSON.stringify({
    version: 1,
    pods: [
      {
        spec: podSpec({ command: sh('sleep 5') }),
        pid,
        pgid: pid,
        startTimeTicks,
        startedAtMs: Date.now(),
        state: 'running',
        exitCode: null,
        signal: null,
        reason: null,
      },
    ],
    epochs: { p1: 1 },
  });
}

/** Starts a detached process outside any runner and returns its pid once it has exec'd. */
async function outsider(args: string[], env: Record<string, string> = {}): Promise<number> {
  const c = spawn(args[0] ?? '', args.slice(1), {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  c.unref();
  const pid = c.pid ?? 0;
  h.track(pid);
  await until(() => processStartTime(pid) !== null, 'the outsider');
  return pid;
}

describe('runner: adopting pods after an agent restart', () => {
  it('a second runner adopts a running pod: same pid, its state, its group, and it can stop it', async () => {
    h = harness();
    const s = await launched(h.runner, h.runner.start(podSpec({ command: sh(TICKING) })));
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready');
    h.runner.close();

    const next = h.restart();
    const report = value(await next.runner.adopt());
    expect(report.ended).toEqual([]);
    expect(report.adopted).toEqual([
      expect.objectContaining({
        podId: 'p1',
        pid: s.pid,
        state: 'ready',
        adopted: true,
        startTimeTicks: s.startTimeTicks,
      }),
    ]);
    expect(next.statuses.map((x) => x.state)).toEqual(['ready']);
    expect(next.runner.pidsOf('p1')).toContain(s.pid);
    // Its output still reaches the log file: nothing of it went through the old runner.
    const path = logPath(next.runner.podDir('p1'), 'stdout');
    const before = fileSize(path);
    await until(() => fileSize(path) > before, 'more output');

    const stopped = value(await next.runner.stop('p1', 'test stop'));
    // Not our child: nothing can tell us its exit code.
    expect(stopped).toMatchObject({ state: 'exited', exitCode: null, reason: 'test stop', adopted: true });
    expect(isLiveProcess(s.pid ?? 0, s.startTimeTicks ?? 0)).toBe(false);
  });

  it('a stop cut short by the agent going away is finished by the next agent, with its reason', async () => {
    h = harness();
    const s = await launched(
      h.runner,
      h.runner.start(podSpec({ command: sh(`trap '' TERM; ${FOREVER}`), graceSeconds: 0.3 })),
    );
    const first = h.runner.stop('p1', 'drain node');
    await until(() => h.runner.get('p1')?.state === 'stopping', 'stopping');
    h.runner.close();
    expect(failure(await first).message).toContain('next agent finishes it');
    expect(isLiveProcess(s.pid ?? 0, s.startTimeTicks ?? 0)).toBe(true);

    const next = h.restart();
    expect(value(await next.runner.adopt()).adopted).toEqual([
      expect.objectContaining({ state: 'stopping', reason: null }),
    ]);
    await until(() => next.runner.get('p1')?.state === 'exited', 'the resumed stop');
    expect(next.runner.get('p1')).toMatchObject({ reason: 'drain node', exitCode: null });
    expect(isLiveProcess(s.pid ?? 0, s.startTimeTicks ?? 0)).toBe(false);
  });

  it("an adopted pod's own exit is noticed by polling /proc and reported without an exit code", async () => {
    h = harness();
    const s = await launched(h.runner, h.runner.start(podSpec({ command: sh('sleep 0.3') })));
    h.runner.close();
    const next = h.restart();
    expect(value(await next.runner.adopt()).adopted).toHaveLength(1);
    await until(() => next.runner.get('p1')?.state === 'exited', 'the exit', 2000);
    expect(next.runner.get('p1')).toMatchObject({
      exitCode: null,
      signal: null,
      reason: REASON_EXITED_ADOPTED,
    });
    expect(next.statuses.at(-1)?.pid).toBe(s.pid);
  });

  it('a recorded pid now owned by another process (PID reuse) is reported lost, and that process is left alone', async () => {
    h = harness();
    h.runner.close();
    const stranger = await outsider(['/bin/sleep', '5']);
    const realStart = processStartTime(stranger) ?? 0;
    writeFileSync(checkpointPath(h.dataDir), legacyCheckpoint(stranger, realStart - 1));
    const next = h.restart();
    const report = value(await next.runner.adopt());
    expect(report.adopted).toEqual([]);
    expect(report.ended).toEqual([expect.objectContaining({ podId: 'p1', state: 'lost', exitCode: null })]);
    expect(report.ended[0]?.reason).toContain(`pid ${stranger} now belongs to another process`);
    expect(next.runner.pidsOf('p1')).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(isLiveProcess(stranger, realStart)).toBe(true);
  });

  it("a pod that died while the agent was down is reported exited, and its group's leftovers are killed", async () => {
    h = harness();
    h.runner.close();
    // A leader with a grandchild in its group, both carrying the pod's identity, as the runner starts them.
    const leader = await outsider(sh('sleep 5 & wait'), { TESSERA_POD_ID: 'p1', TESSERA_EPOCH: '1' });
    await until(() => groupPids(leader).length === 2, 'the grandchild');
    const ticks = processStartTime(leader) ?? 0;
    process.kill(leader, 'SIGKILL');
    await until(
      () => readProcStat(leader)?.state !== 'S' && readProcStat(leader)?.state !== 'R',
      'leader death',
    );
    expect(groupPids(leader)).toHaveLength(1);
    writeFileSync(checkpointPath(h.dataDir), legacyCheckpoint(leader, ticks));

    const next = h.restart();
    const report = value(await next.runner.adopt());
    expect(report.ended).toEqual([
      expect.objectContaining({ state: 'exited', exitCode: null, reason: REASON_EXITED_WHILE_DOWN }),
    ]);
    await until(() => groupPids(leader).length === 0, 'the leftover to be killed');
  });

  it('a corrupt checkpoint fails adopt with the file named, sets it aside, and the runner still starts pods', async () => {
    h = harness();
    h.runner.close();
    const path = checkpointPath(h.dataDir);
    writeFileSync(path, 'not json at all');
    const next = h.restart({ now: () => 42 });
    const e = failure(await next.runner.adopt());
    expect(e.message).toContain(path);
    expect(existsSync(`${path}.corrupt-42`)).toBe(true);
    expect(value(next.runner.start(podSpec({ command: ['true'] }))).state).toBe('starting');
  });

  it('fencing survives a restart: an epoch older than one the old agent saw is refused', async () => {
    h = harness();
    value(h.runner.start(podSpec({ epoch: 5, command: ['true'] })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    h.runner.close();
    const next = h.restart();
    value(await next.runner.adopt());
    expect(next.runner.get('p1')).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(failure(next.runner.start(podSpec({ epoch: 4, command: ['true'] }))).message).toContain('fencing');
  });

  it('pods survive the agent process being SIGKILLed, keep logging to their files, and are adopted', async () => {
    h = harness();
    h.runner.close();
    const agent = spawn(
      NODE_BIN,
      [
        '--import',
        'tsx',
        'test/agent/runner/fixtures/agent-main.ts',
        h.dataDir,
        h.rt.podRoot,
        h.rt.cgroupParent,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      agent.stdout?.on('data', (d: Buffer) => {
        buf += String(d);
        if (buf.includes('\n')) resolve(buf.split('\n')[0] ?? '');
      });
      agent.once('exit', (code) => reject(new Error(`agent exited early with ${code}`)));
    });
    const started = JSON.parse(line) as { ok: boolean; value: PodStatus };
    expect(started.ok).toBe(true);
    const pod = started.value;
    h.track(pod.pid ?? 0);
    const gone = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGKILL');
    await gone;

    expect(isLiveProcess(pod.pid ?? 0, pod.startTimeTicks ?? 0)).toBe(true);
    const path = logPath(h.runner.podDir('survivor'), 'stdout');
    const size = fileSize(path);
    await until(() => fileSize(path) > size, 'output after the agent died');

    const next = h.restart();
    const report = value(await next.runner.adopt());
    expect(report.adopted.map((s) => [s.podId, s.pid])).toEqual([['survivor', pod.pid]]);
    await until(() => next.runner.get('survivor')?.state === 'ready', 'ready from the log file');
    value(await next.runner.stop('survivor', 'test over', 0.2));
    expect(isLiveProcess(pod.pid ?? 0, pod.startTimeTicks ?? 0)).toBe(false);
  });
});
