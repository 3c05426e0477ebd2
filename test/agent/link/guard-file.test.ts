/**
 * The agent's side of the fence guard: the deadline's place between the agent's own fence and the
 * lease, the write throttle (at most one write per half heartbeat, the newest deadline always
 * landing), the disarm on a clean stop, and the link telling it when the allocator is heard from.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLink } from '../../../agent/link/client.ts';
import {
  armedDeadline,
  createGuardFile,
  decideWrite,
  type FenceDeadline,
  fenceDeadlinePath,
  MAX_KILL_GRACE_MS,
} from '../../../agent/link/guard-file.ts';
import type { LinkClock } from '../../../agent/link/types.ts';
import { createLogger } from '../../../common/log.ts';
import { until } from '../../helpers/wait.ts';
import { fakeAgent, fakeAllocator, hellos, quietLog } from './fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A clock and timers the test moves by hand. */
function manualTime(startMs = 1_000_000) {
  let nowMs = startMs;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => nowMs,
    setTimer: (fn: () => void, ms: number) => {
      const t = { at: nowMs + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    advance(ms: number) {
      nowMs += ms;
      for (const t of timers) {
        if (t.live && t.at <= nowMs) {
          t.live = false;
          t.fn();
        }
      }
    },
    pending: () => timers.filter((t) => t.live).length,
  };
}

const clock = (lastHeardMs: number, o: Partial<LinkClock> = {}): LinkClock => ({
  lastHeardMs,
  marginMs: 10_000,
  heartbeatMs: 2000,
  ...o,
});

describe('the deadline', () => {
  it('is armed at lastHeardMs + half the margin: each pod adds its own rescheduleAfterMs', () => {
    // A pod with reschedule:30s: the agent stops it at 31_000, the guard at 36_000, the allocator
    // replaces it at 41_000; the kill grace keeps the guard's SIGKILL inside that last half.
    expect(armedDeadline(clock(1000), 42, 1500)).toEqual({
      baseDeadlineMs: 6000,
      agentPid: 42,
      writtenMs: 1500,
      killGraceMs: MAX_KILL_GRACE_MS,
    });
    // Margin 1000: the guard acts 500 after the agent and must be done 500 later.
    const short = armedDeadline(clock(0, { marginMs: 1000 }), 1, 0);
    expect(short.baseDeadlineMs).toBe(500);
    expect(short.killGraceMs).toBe(250);
    for (const marginMs of [1, 999, 10_000, 60_000]) {
      const d = armedDeadline(clock(0, { marginMs }), 1, 0);
      expect((d.baseDeadlineMs ?? 0) + d.killGraceMs).toBeLessThan(marginMs);
    }
  });
});

describe('decideWrite', () => {
  it('writes the first deadline and any earlier one at once, skips an unchanged one, throttles the rest', () => {
    expect(decideWrite(null, 10, 0, 1000)).toBe('now');
    const last = { deadlineMs: 50_000, atMs: 10_000 };
    expect(decideWrite(last, 49_000, 10_001, 1000)).toBe('now');
    expect(decideWrite(last, 50_000, 10_500, 1000)).toBe('skip');
    expect(decideWrite(last, 50_400, 10_400, 1000)).toBe('later');
    expect(decideWrite(last, 51_000, 11_000, 1000)).toBe('now');
  });
});

describe('createGuardFile', () => {
  it('writes at most once per half heartbeat however often frames arrive, the newest deadline last', () => {
    const t = manualTime();
    const writes: FenceDeadline[] = [];
    const g = createGuardFile({
      dataDir: '/nowhere',
      log: quietLog,
      agentPid: 7,
      now: t.now,
      setTimer: t.setTimer,
      write: (r) => writes.push(r),
    });
    const start = t.now();
    g.heard(clock(start));
    expect(writes.map((w) => w.baseDeadlineMs)).toEqual([start + 5000]);
    // 50 frames over 990 ms: none written yet, one trailing write pending.
    for (let i = 0; i < 50; i++) {
      t.advance(i === 0 ? 10 : 20);
      g.heard(clock(t.now()));
    }
    expect(writes).toHaveLength(1);
    expect(t.pending()).toBe(1);
    const lastHeard = t.now();
    t.advance(10);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatchObject({ baseDeadlineMs: lastHeard + 5000, agentPid: 7 });
    // Quiet: nothing more to write.
    t.advance(5000);
    expect(writes).toHaveLength(2);
    // Heard long after the last write: written at once.
    g.heard(clock(t.now()));
    expect(writes).toHaveLength(3);
  });

  it('writes an earlier deadline at once (the guard must never wait past it)', () => {
    const t = manualTime();
    const writes: FenceDeadline[] = [];
    const g = createGuardFile({
      dataDir: '/x',
      log: quietLog,
      now: t.now,
      setTimer: t.setTimer,
      write: (r) => writes.push(r),
    });
    g.heard(clock(t.now()));
    t.advance(5);
    g.heard(clock(t.now(), { marginMs: 1000 }));
    expect(writes.map((w) => w.baseDeadlineMs)).toEqual([t.now() - 5 + 5000, t.now() + 500]);
  });

  it('disarms on a clean stop, cancels a pending write and ignores the link afterwards', () => {
    const t = manualTime();
    const writes: FenceDeadline[] = [];
    const g = createGuardFile({
      dataDir: '/x',
      log: quietLog,
      agentPid: 9,
      now: t.now,
      setTimer: t.setTimer,
      write: (r) => writes.push(r),
    });
    g.heard(clock(t.now()));
    t.advance(10);
    g.heard(clock(t.now()));
    g.stopped();
    t.advance(5000);
    g.heard(clock(t.now()));
    g.stopped();
    expect(writes.map((w) => w.baseDeadlineMs)).toEqual([t.now() - 5010 + 5000, null]);
    expect(writes[1]).toMatchObject({ baseDeadlineMs: null, agentPid: 9 });
  });

  it('writes the file atomically under the data dir, and logs (not throws) when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-guard-file-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const g = createGuardFile({ dataDir: dir, log: quietLog, now: () => 5000 });
    g.heard(clock(5000));
    const read = (): unknown => JSON.parse(readFileSync(fenceDeadlinePath(dir), 'utf8'));
    expect(read()).toEqual({
      baseDeadlineMs: 10_000,
      agentPid: process.pid,
      writtenMs: 5000,
      killGraceMs: 2000,
    });
    g.stopped();
    expect(read()).toMatchObject({ baseDeadlineMs: null, agentPid: process.pid });

    const lines: string[] = [];
    const broken = createGuardFile({
      dataDir: join(dir, 'missing', 'deeper'),
      log: createLogger({ stream: { write: (l: string) => lines.push(l) } }),
    });
    expect(() => broken.heard(clock(Date.now()))).not.toThrow();
    expect(lines[0]).toMatch(/fence deadline not written/);
  });
});

describe('the link and its guard', () => {
  it('tells the guard at start, on every frame heard (with the Welcome heartbeat) and on a clean stop', async () => {
    const alloc = await fakeAllocator();
    cleanups.push(() => alloc.close());
    const heard: LinkClock[] = [];
    let stopped = 0;
    const link = createLink({
      url: alloc.url,
      token: 't',
      nodeName: 'node-a',
      agent: fakeAgent(),
      heartbeatMs: 50,
      leaseMs: 5000,
      marginMs: 1000,
      log: quietLog,
      guard: { heard: (c) => heard.push(c), stopped: () => stopped++ },
    });
    cleanups.push(() => link.stop());
    const before = Date.now();
    link.start();
    expect(heard).toEqual([{ lastHeardMs: expect.any(Number), marginMs: 1000, heartbeatMs: 50 }]);
    expect(heard[0]?.lastHeardMs).toBeGreaterThanOrEqual(before);
    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 2000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, {
      case: 'welcome',
      value: { nodeId: 'n-1', heartbeatMs: 100, leaseMs: 8000, desiredPods: [], nodeCredential: null },
    });
    await until(() => heard.some((h) => h.heartbeatMs === 100), 'the Welcome heartbeat', 2000);
    expect(heard.at(-1)).toMatchObject({ marginMs: 1000, heartbeatMs: 100 });
    const n = heard.length;
    alloc.send(c, { case: 'ack', value: { seq: 1 } });
    await until(() => heard.length > n, 'an Ack heard', 2000);
    expect(stopped).toBe(0);
    await link.stop();
    expect(stopped).toBe(1);
  });
});
