/**
 * The real fence guard (agent/fence-guard.mjs), started by `ensureFenceGuard` over a temp data dir whose
 * runner checkpoint names real detached processes: a `reschedule` pod past its deadline (the base plus
 * its own time) is killed and recorded; a `keep` pod never; a disarmed deadline, or a reused pid,
 * leaves pods alone; the guard goes away with its agent or its data dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureFenceGuard, FENCE_GUARD_LOG_FILE, runningGuardPid } from '../../agent/fence-guard-start.ts';
import { type FenceDeadline, fenceDeadlinePath, writeJsonAtomic } from '../../agent/link/guard-file.ts';
import { checkpointPath, writeCheckpoint } from '../../agent/runner/checkpoint.ts';
import {
  endReason,
  guardFencedPath,
  REASON_GUARD_FENCED,
  readGuardFenced,
} from '../../agent/runner/guard-record.ts';
import { processStartTime, readProcStat } from '../../agent/runner/proc.ts';
import type { PodRunState } from '../../agent/runner/types.ts';
import type { PodCgroup } from '../../agent/runtime/cgroup.ts';
import { until } from '../helpers/wait.ts';
import { testRuntime } from './runtime/helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tmpData(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-guard-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function signalQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** A pod-like process: detached, so it leads its own process group as the runner's pods do. */
function podProcess(script = 'setInterval(() => {}, 1000)'): {
  child: ChildProcess;
  pid: number;
  exited: () => boolean;
} {
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('pod process did not start');
  let done = false;
  child.on('exit', () => {
    done = true;
  });
  cleanups.push(() => signalQuietly(-pid, 'SIGKILL'));
  return { child, pid, exited: () => done };
}

/** A checkpoint naming `pid` as pod `podId` epoch `epoch`, with `startTimeTicks` as recorded. */
function checkpoint(
  dataDir: string,
  pods: {
    podId: string;
    epoch: number;
    pid: number;
    startTimeTicks: number;
    state?: PodRunState;
    /** Its disconnect policy: null is `keep`; default 0, `reschedule` at the base deadline itself. */
    afterMs?: number | null;
    /** The pod's cgroup, as the process runtime records it; default none (a process group). */
    cgroup?: PodCgroup | null;
  }[],
): void {
  const r = writeCheckpoint(checkpointPath(dataDir), {
    version: 2,
    pods: pods.map((p) => ({
      spec: {
        podId: p.podId,
        workload: p.podId,
        project: 'team-a',
        epoch: p.epoch,
        command: ['node'],
        env: {},
        grants: [],
        priority: 0,
        graceSeconds: 10,
        ...(p.afterMs === null ? {} : { rescheduleAfterMs: p.afterMs ?? 0 }),
      },
      ref: { kind: 'process', pid: p.pid, startTimeTicks: p.startTimeTicks, cgroup: p.cgroup ?? null },
      pid: p.pid,
      startTimeTicks: p.startTimeTicks,
      startedAtMs: Date.now(),
      state: p.state ?? 'running',
      exitCode: null,
      signal: null,
      reason: null,
    })),
    epochs: Object.fromEntries(pods.map((p) => [p.podId, p.epoch])),
  });
  if (!r.ok) throw new Error(r.error.message);
}

function deadline(dataDir: string, d: Partial<FenceDeadline>): void {
  writeJsonAtomic(fenceDeadlinePath(dataDir), {
    baseDeadlineMs: null,
    agentPid: process.pid,
    writtenMs: Date.now(),
    killGraceMs: 500,
    ...d,
  });
}

/** Starts the guard for `dataDir` (agent: this test process unless told) and waits until it watches. */
async function startGuard(dataDir: string, agentPid = process.pid): Promise<number> {
  const g = ensureFenceGuard(dataDir, { agentPid, args: ['--poll-ms', '50', '--grace-ms', '1000'] });
  if (!g.ok) throw new Error(g.error.message);
  const pid = g.value.pid;
  cleanups.push(() => signalQuietly(pid, 'SIGKILL'));
  await until(() => guardLog(dataDir).includes('fence guard watching'), 'the guard to watch');
  return pid;
}

function guardLog(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, FENCE_GUARD_LOG_FILE), 'utf8');
  } catch {
    return '';
  }
}

/** Exists and is not a zombie. */
function alive(pid: number): boolean {
  const s = readProcStat(pid);
  return s !== null && s.state !== 'Z';
}

describe('fence guard', () => {
  it('kills a live pod once the armed deadline has passed, and records it for the agent', async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    checkpoint(dataDir, [
      { podId: 'train-0', epoch: 3, pid: pod.pid, startTimeTicks: processStartTime(pod.pid) ?? -1 },
    ]);
    deadline(dataDir, { baseDeadlineMs: Date.now() + 60_000 });
    await startGuard(dataDir);
    await sleep(300);
    expect(pod.exited()).toBe(false);

    const passedAt = Date.now();
    deadline(dataDir, { baseDeadlineMs: passedAt - 1 });
    await until(pod.exited, 'the pod to be killed');
    expect(pod.child.signalCode).toBe('SIGTERM');
    const records = readGuardFenced(guardFencedPath(dataDir));
    expect(records).toEqual([{ podId: 'train-0', epoch: 3, atMs: expect.any(Number) }]);
    expect(records[0]?.atMs).toBeGreaterThanOrEqual(passedAt);
    // What the agent reports for it once it runs again: a lease loss, which the allocator replaces.
    expect(endReason({ podId: 'train-0', epoch: 3 }, null, records, null)).toBe(REASON_GUARD_FENCED);
    expect(REASON_GUARD_FENCED.startsWith('lease lost')).toBe(true);
    expect(guardLog(dataDir)).toContain('deadline passed: stopping pod');
  });

  it('kills each reschedule pod at its own deadline and never a keep pod', async () => {
    const dataDir = tmpData();
    const soon = podProcess();
    const later = podProcess();
    const kept = podProcess();
    const ticks = (pid: number) => processStartTime(pid) ?? -1;
    checkpoint(dataDir, [
      { podId: 'soon', epoch: 1, pid: soon.pid, startTimeTicks: ticks(soon.pid), afterMs: 300 },
      { podId: 'later', epoch: 1, pid: later.pid, startTimeTicks: ticks(later.pid), afterMs: 60_000 },
      { podId: 'kept', epoch: 1, pid: kept.pid, startTimeTicks: ticks(kept.pid), afterMs: null },
    ]);
    // Heard from the allocator an hour ago as far as `kept` is concerned; `soon` is due 300 ms after.
    deadline(dataDir, { baseDeadlineMs: Date.now() });
    await startGuard(dataDir);
    await until(soon.exited, 'the pod with reschedule 300 ms to be killed');
    await sleep(400);
    expect(later.exited()).toBe(false);
    expect(kept.exited()).toBe(false);
    expect(readGuardFenced(guardFencedPath(dataDir)).map((r) => r.podId)).toEqual(['soon']);
    deadline(dataDir, { baseDeadlineMs: Date.now() - 3_600_000 });
    await until(later.exited, 'the pod with reschedule 60 s to be killed an hour later');
    await sleep(300);
    expect(kept.exited()).toBe(false);
  });

  it('SIGKILLs a pod that ignores SIGTERM once the grace is over', async () => {
    const dataDir = tmpData();
    const pod = podProcess("process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)");
    await sleep(200); // the handler installed
    checkpoint(dataDir, [
      { podId: 'stubborn', epoch: 1, pid: pod.pid, startTimeTicks: processStartTime(pod.pid) ?? -1 },
    ]);
    deadline(dataDir, { baseDeadlineMs: Date.now() - 1, killGraceMs: 300 });
    const t0 = Date.now();
    await startGuard(dataDir);
    await until(pod.exited, 'the pod to be killed');
    expect(pod.child.signalCode).toBe('SIGKILL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(readGuardFenced(guardFencedPath(dataDir)).map((r) => r.podId)).toEqual(['stubborn']);
  });

  it('still guards a pod of a version-1 checkpoint (pid and pgid, before runtimes)', async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    const ticks = processStartTime(pod.pid) ?? -1;
    writeJsonAtomic(checkpointPath(dataDir), {
      version: 1,
      pods: [
        {
          spec: { podId: 'old', epoch: 1, rescheduleAfterMs: 0 },
          pid: pod.pid,
          pgid: pod.pid,
          startTimeTicks: ticks,
          state: 'running',
        },
      ],
      epochs: { old: 1 },
    });
    deadline(dataDir, { baseDeadlineMs: Date.now() - 1 });
    await startGuard(dataDir);
    await until(pod.exited, 'the pod to be killed');
    expect(readGuardFenced(guardFencedPath(dataDir)).map((r) => r.podId)).toEqual(['old']);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "kills a pod with a cgroup by its cgroup: a setsid grandchild outside the pod's group dies too",
    async () => {
      const dataDir = tmpData();
      const rt = testRuntime();
      cleanups.push(() => rt.cleanup());
      const out = join(dataDir, 'out');
      const fds = [openSync(out, 'w'), openSync(join(dataDir, 'err'), 'w')];
      // The grandchild prints its own pid once setsid has run: `echo $!` in the parent could
      // print it before the new session exists.
      const script = "trap '' TERM; setsid sh -c 'trap \"\" TERM; echo $$; exec sleep 300' & wait";
      const launched = await rt.runtime.launch({
        spec: {
          podId: 'cg',
          workload: 'w',
          project: 'p',
          epoch: 1,
          command: ['/bin/sh', '-c', script],
          env: {},
          grants: [],
          priority: 0,
          graceSeconds: 1,
        },
        podDir: dataDir,
        stdoutFd: fds[0] ?? -1,
        stderrFd: fds[1] ?? -1,
        env: { PATH: '/usr/bin:/bin' },
        onEvent: () => {},
        signal: new AbortController().signal,
      });
      for (const fd of fds) closeSync(fd);
      if (!launched.ok) throw new Error(launched.error.message);
      const { ref } = launched.value;
      await until(() => readFileSync(out, 'utf8').includes('\n'), 'the grandchild pid');
      const grandchild = Number(readFileSync(out, 'utf8').trim());
      // Its own session and group: signalling the pod's group would miss it.
      expect(readProcStat(grandchild)?.pgrp).not.toBe(ref.pid);
      checkpoint(dataDir, [
        { podId: 'cg', epoch: 1, pid: ref.pid, startTimeTicks: ref.startTimeTicks, cgroup: ref.cgroup },
      ]);
      deadline(dataDir, { baseDeadlineMs: Date.now() - 1, killGraceMs: 200 });
      await startGuard(dataDir);
      await until(
        () => !alive(ref.pid) && !alive(grandchild),
        'the pod and its grandchild to be killed',
        4000,
      );
      expect(readGuardFenced(guardFencedPath(dataDir)).map((r) => r.podId)).toEqual(['cg']);
      expect(guardLog(dataDir)).toContain('grace over: SIGKILL');
      await rt.runtime.release(ref);
    },
  );

  it('leaves pods alone while the deadline is disarmed', async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    checkpoint(dataDir, [
      { podId: 'p', epoch: 1, pid: pod.pid, startTimeTicks: processStartTime(pod.pid) ?? -1 },
    ]);
    deadline(dataDir, { baseDeadlineMs: null, writtenMs: Date.now() - 3_600_000 });
    await startGuard(dataDir);
    await sleep(500);
    expect(pod.exited()).toBe(false);
    expect(existsSync(guardFencedPath(dataDir))).toBe(false);
  });

  it('never signals a reused pid: a start time other than the recorded one', async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    const ticks = processStartTime(pod.pid) ?? 0;
    checkpoint(dataDir, [{ podId: 'p', epoch: 1, pid: pod.pid, startTimeTicks: ticks + 1 }]);
    deadline(dataDir, { baseDeadlineMs: Date.now() - 1 });
    await startGuard(dataDir);
    await sleep(600);
    expect(pod.exited()).toBe(false);
    expect(existsSync(guardFencedPath(dataDir))).toBe(false);
  });

  it('skips ended pods and anything in the checkpoint not of the expected shape', async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    const ticks = processStartTime(pod.pid) ?? 0;
    checkpoint(dataDir, [{ podId: 'done', epoch: 1, pid: pod.pid, startTimeTicks: ticks, state: 'exited' }]);
    deadline(dataDir, { baseDeadlineMs: Date.now() - 1 });
    await startGuard(dataDir);
    await sleep(400);
    writeJsonAtomic(checkpointPath(dataDir), { version: 1, pods: [{ spec: null, pid: 1, pgid: 1 }, 'x'] });
    await sleep(400);
    writeJsonAtomic(checkpointPath(dataDir), {
      pods: [{ spec: { podId: 'p', epoch: 1 }, pid: 0, pgid: 0, startTimeTicks: 0, state: 'running' }],
    });
    await sleep(400);
    expect(pod.exited()).toBe(false);
    expect(existsSync(guardFencedPath(dataDir))).toBe(false);
  });

  it("stops a crashed agent's pods at its deadline, then exits", async () => {
    const dataDir = tmpData();
    const agent = podProcess();
    const pod = podProcess();
    checkpoint(dataDir, [
      { podId: 'p', epoch: 2, pid: pod.pid, startTimeTicks: processStartTime(pod.pid) ?? -1 },
    ]);
    const deadlineMs = Date.now() + 700;
    deadline(dataDir, { baseDeadlineMs: deadlineMs, agentPid: agent.pid });
    const guard = await startGuard(dataDir, agent.pid);
    signalQuietly(agent.pid, 'SIGKILL');
    await until(pod.exited, 'the pod to be killed at the deadline');
    // Not before it: the guard's own record of the kill (a loaded machine may start the guard late,
    // so "still alive 300 ms in" would test the machine, not the guard).
    const fenced = readGuardFenced(guardFencedPath(dataDir));
    expect(fenced.map((r) => r.podId)).toEqual(['p']);
    expect(fenced[0]?.atMs).toBeGreaterThanOrEqual(deadlineMs);
    await until(() => !alive(guard), 'the guard to exit');
    expect(guardLog(dataDir)).toContain('no pod it ran stops when cut off');
  });

  it("logs at the agent's level: at warn, its kills but none of its info lines", async () => {
    const dataDir = tmpData();
    const pod = podProcess();
    checkpoint(dataDir, [
      { podId: 'p', epoch: 1, pid: pod.pid, startTimeTicks: processStartTime(pod.pid) ?? -1 },
    ]);
    deadline(dataDir, { baseDeadlineMs: Date.now() - 1 });
    const g = ensureFenceGuard(dataDir, {
      logLevel: 'warn',
      args: ['--poll-ms', '50', '--grace-ms', '1000'],
    });
    if (!g.ok) throw new Error(g.error.message);
    const guard = g.value.pid;
    cleanups.push(() => signalQuietly(guard, 'SIGKILL'));
    expect(readFileSync(`/proc/${guard}/cmdline`, 'utf8').split('\0')).toEqual(
      expect.arrayContaining(['--log-level', 'warn']),
    );
    await until(pod.exited, 'the pod to be killed at the deadline');
    await until(() => guardLog(dataDir).includes('deadline passed: stopping pod'), 'the kill to be logged');
    expect(guardLog(dataDir)).not.toContain('"level":"info"');
  });

  it('is reused by a restarted agent rather than started twice', async () => {
    const dataDir = tmpData();
    deadline(dataDir, { baseDeadlineMs: Date.now() + 60_000 });
    const pid = await startGuard(dataDir);
    expect(runningGuardPid(dataDir)).toBe(pid);
    const again = ensureFenceGuard(dataDir);
    expect(again.ok && again.value).toMatchObject({ pid, reused: true });
  });

  it('exits once its agent is gone with the deadline disarmed, and when its data dir is removed', async () => {
    const dataDir = tmpData();
    const agent = podProcess();
    deadline(dataDir, { baseDeadlineMs: null, agentPid: agent.pid });
    const guard = await startGuard(dataDir, agent.pid);
    await sleep(200);
    expect(alive(guard)).toBe(true);
    signalQuietly(agent.pid, 'SIGKILL');
    await until(() => !alive(guard), 'the guard to exit with its agent');
    expect(guardLog(dataDir)).toContain('is gone and the deadline is disarmed');
    expect(existsSync(join(dataDir, 'fence-guard.pid'))).toBe(false);

    const other = tmpData();
    deadline(other, { baseDeadlineMs: Date.now() + 60_000 });
    const second = await startGuard(other);
    rmSync(other, { recursive: true, force: true });
    await until(() => !alive(second), 'the guard to exit with its data dir');
  });
});
