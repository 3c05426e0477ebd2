/**
 * A pod the fence guard killed (recorded in guard-fenced.json) ends `lease lost`, so the allocator
 * replaces it instead of failing its workload; the agent's own reason still wins, and a pod the guard
 * did not touch ends as before.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  endReason,
  guardFencedPath,
  parseGuardFenced,
  REASON_GUARD_FENCED,
  readGuardFenced,
} from '../../../agent/runner/guard-record.ts';
import { readProcStat, signalGroup } from '../../../agent/runner/proc.ts';
import { REASON_EXITED_WHILE_DOWN } from '../../../agent/runner/runner.ts';
import { until } from '../../helpers/wait.ts';
import { type Harness, harness, launched, podSpec, value } from './helpers.ts';

let h: Harness | null = null;
afterEach(async () => {
  await h?.cleanup();
  h = null;
});

const FOREVER = ['/bin/sh', '-c', 'while :; do sleep 0.05; done'];

function guardKilled(dataDir: string, podId: string, epoch: number): void {
  writeFileSync(guardFencedPath(dataDir), JSON.stringify([{ podId, epoch, atMs: Date.now(), pid: 1 }]));
}

describe('endReason (pure)', () => {
  const records = [{ podId: 'a', epoch: 2, atMs: 1 }];
  it("is the agent's own reason first, then the guard's for that pod and epoch, else the fallback", () => {
    expect(endReason({ podId: 'a', epoch: 2 }, 'GPU OOM', records, null)).toBe('GPU OOM');
    expect(endReason({ podId: 'a', epoch: 2 }, null, records, null)).toBe(REASON_GUARD_FENCED);
    expect(endReason({ podId: 'a', epoch: 3 }, null, records, 'fallback')).toBe('fallback');
    expect(endReason({ podId: 'b', epoch: 2 }, null, records, null)).toBeNull();
    expect(REASON_GUARD_FENCED).toMatch(/^lease lost/);
  });

  it('drops records of the wrong shape and reads a missing or torn file as none', () => {
    expect(
      parseGuardFenced([
        { podId: 'a', epoch: 1, atMs: 5 },
        { podId: 1 },
        null,
        'x',
        { podId: 'b', epoch: 1.5, atMs: 1 },
      ]),
    ).toEqual([{ podId: 'a', epoch: 1, atMs: 5 }]);
    expect(parseGuardFenced({ podId: 'a' })).toEqual([]);
    expect(readGuardFenced('/nonexistent/guard-fenced.json')).toEqual([]);
  });
});

describe('runner: pods the fence guard killed', () => {
  it('a pod killed by the guard ends lease lost', async () => {
    h = harness();
    const s = await launched(h.runner, h.runner.start(podSpec({ podId: 'g1', epoch: 4, command: FOREVER })));
    guardKilled(h.dataDir, 'g1', 4);
    signalGroup(s.pid ?? 0, 'SIGTERM');
    await until(() => h?.runner.get('g1')?.state === 'exited', 'the pod ended');
    expect(h.runner.get('g1')).toMatchObject({ signal: 'SIGTERM', reason: REASON_GUARD_FENCED });
  });

  it('a pod the guard did not kill (another epoch) ends with no reason, as before', async () => {
    h = harness();
    const s = await launched(h.runner, h.runner.start(podSpec({ podId: 'g1', epoch: 5, command: FOREVER })));
    guardKilled(h.dataDir, 'g1', 4);
    signalGroup(s.pid ?? 0, 'SIGTERM');
    await until(() => h?.runner.get('g1')?.state === 'exited', 'the pod ended');
    expect(h.runner.get('g1')?.reason).toBeNull();
  });

  it("keeps the agent's own reason when it was stopping the pod itself", async () => {
    h = harness();
    value(h.runner.start(podSpec({ podId: 'g1', epoch: 1, command: FOREVER })));
    guardKilled(h.dataDir, 'g1', 1);
    value(await h.runner.stop('g1', 'stopped by the allocator'));
    expect(h.runner.get('g1')?.reason).toBe('stopped by the allocator');
  });

  it('a pod the guard killed while no agent watched is reported lease lost by the next one', async () => {
    h = harness();
    const s = await launched(h.runner, h.runner.start(podSpec({ podId: 'g1', epoch: 2, command: FOREVER })));
    const t = await launched(h.runner, h.runner.start(podSpec({ podId: 'g2', epoch: 2, command: FOREVER })));
    h.runner.close();
    guardKilled(h.dataDir, 'g1', 2);
    signalGroup(s.pid ?? 0, 'SIGKILL');
    signalGroup(t.pid ?? 0, 'SIGKILL');
    await until(() => !isRunning(s.pid) && !isRunning(t.pid), 'both gone');
    const next = h.restart();
    const report = value(await next.runner.adopt());
    const reasons = Object.fromEntries(report.ended.map((p) => [p.podId, p.reason]));
    expect(reasons).toEqual({ g1: REASON_GUARD_FENCED, g2: REASON_EXITED_WHILE_DOWN });
  });
});

/** Exists and is not a zombie. */
function isRunning(pid: number | null): boolean {
  const stat = pid === null ? null : readProcStat(pid);
  return stat !== null && stat.state !== 'Z';
}
