import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  groupPids,
  isLiveProcess,
  isSameProcess,
  parseProcStat,
  processStartTime,
  readProcStat,
  signalGroup,
} from '../../../agent/runner/proc.ts';
import { until } from '../../helpers/wait.ts';

// A real line from a kernel, then the same with a hostile command name.
const LINE =
  '4242 (python3) S 1 4242 4242 0 -1 4194560 1200 0 0 0 150 30 0 0 20 0 8 0 987654 123456 789 18446744073709551615 0 0 0 0 0 0 0 16781312 16386 0 0 0 17 3 0 0 0 0 0';

describe('parseProcStat', () => {
  it('reads pid, state, pgrp, CPU times and the start time (field 22)', () => {
    expect(parseProcStat(LINE)).toMatchObject({
      pid: 4242,
      comm: 'python3',
      state: 'S',
      ppid: 1,
      pgrp: 4242,
      session: 4242,
      utimeTicks: 150,
      stimeTicks: 30,
      startTimeTicks: 987654,
    });
  });

  it('a command name with spaces and parentheses does not shift the fields', () => {
    const hostile = LINE.replace('(python3)', '(a) b (c) 7 8)');
    const stat = parseProcStat(hostile);
    expect(stat?.comm).toBe('a) b (c) 7 8');
    expect(stat?.startTimeTicks).toBe(987654);
    expect(stat?.pgrp).toBe(4242);
    expect(parseProcStat(LINE.replace('(python3)', '(x\ny)'))?.startTimeTicks).toBe(987654);
  });

  it('refuses what is not a stat line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2')).toBeNull();
    expect(parseProcStat('garbage without parens')).toBeNull();
  });
});

describe('processes in /proc', () => {
  const dirs: string[] = [];
  const groups: number[] = [];
  afterEach(() => {
    for (const g of groups.splice(0)) signalGroup(g, 'SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('our own start time is stable, and a wrong one reads as another process', () => {
    const t = processStartTime(process.pid);
    expect(t).toBeGreaterThan(0);
    expect(processStartTime(process.pid)).toBe(t);
    expect(isSameProcess(process.pid, t ?? 0)).toBe(true);
    expect(isSameProcess(process.pid, (t ?? 0) + 1)).toBe(false);
    expect(processStartTime(2 ** 22 + 12345)).toBeNull();
  });

  it('a real process whose name holds spaces and parentheses parses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-proc-'));
    dirs.push(dir);
    const odd = join(dir, 'x) y (z');
    symlinkSync('/bin/sleep', odd);
    const child = spawn(odd, ['5'], { detached: true, stdio: 'ignore' });
    const pid = child.pid ?? 0;
    groups.push(pid);
    await until(() => readProcStat(pid)?.comm === 'x) y (z', 'the exec');
    const stat = readProcStat(pid);
    expect(stat?.pgrp).toBe(pid);
    expect(isLiveProcess(pid, stat?.startTimeTicks ?? 0)).toBe(true);
  });

  it("groupPids finds a detached group's leader and grandchild, and nothing after SIGKILL", async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 5 & echo $! ; wait'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const pid = child.pid ?? 0;
    groups.push(pid);
    const grandchild = await new Promise<number>((r) =>
      child.stdout?.once('data', (d: Buffer) => r(Number(String(d).trim()))),
    );
    expect(groupPids(pid)).toEqual([pid, grandchild].sort((a, b) => a - b));
    expect(signalGroup(pid, 'SIGKILL')).toBe(true);
    await until(() => groupPids(pid).length === 0, 'the group to die');
    expect(signalGroup(1, 'SIGKILL')).toBe(false);
  });
});
