/** Two electors on two connections to one SQLite file stand in for two allocators on one PostgreSQL. */
import { describe, expect, it } from 'vitest';
import { createElector, type Elector } from '../../../allocator/ha/elector.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { FencedError } from '../../../allocator/store/errors.ts';
import { createDepartment } from '../../../allocator/store/org.ts';
import { createLogger } from '../../../common/log.ts';
import { openTemp, T0, tempDir } from '../store/helpers.ts';

const quiet = createLogger({ stream: { write: () => true } });

interface Side {
  elector: Elector;
  db: Db;
  events: string[];
  clock: { ms: number };
}

function side(db: Db, name: string, leaseMs = 60_000): Side {
  const events: string[] = [];
  const clock = { ms: 0 };
  const elector = createElector({
    db,
    url: () => `http://${name}:7400`,
    leaseMs,
    mode: 'shared',
    log: quiet,
    onLead: (epoch) => events.push(`lead ${epoch}`),
    onStepDown: (reason) => events.push(`down: ${reason}`),
    monotonicMs: () => clock.ms,
  });
  return { elector, db, events, clock };
}

function pair(): [Side, Side] {
  const dir = tempDir();
  return [side(openTemp(dir), 'a'), side(openTemp(dir), 'b')];
}

describe('elector', () => {
  it('one of two leads; the other stands by and names it', () => {
    const [a, b] = pair();
    a.elector.tick();
    b.elector.tick();
    expect(a.events).toEqual(['lead 1']);
    expect(b.events).toEqual([]);
    expect(b.elector.state().role).toBe('standby');
    expect(b.elector.leaderUrl()).toBe('http://a:7400');
    expect(a.elector.leaderUrl()).toBe('http://a:7400');
  });

  it('a leader whose own clock passed its lease renews before acting: it keeps leading if nobody took over', () => {
    const [a] = pair();
    a.elector.tick();
    a.clock.ms = 59_000;
    expect(a.elector.leading()).toBe(true);
    expect(a.events).toEqual(['lead 1']);
  });

  it('a stalled leader whose lease was taken meanwhile is fenced at that renewal and never acts', () => {
    const [a, b] = pair();
    a.elector.tick();
    b.db.prepare('UPDATE leader SET expires_ms = 0').run();
    b.elector.tick();
    a.clock.ms = 59_000;
    expect(a.elector.leading()).toBe(false);
    expect(a.events).toEqual(['lead 1', expect.stringMatching(/^down: fenced: /)]);
  });

  it('a deposed leader finds out at its next renewal, and its writes are fenced meanwhile', () => {
    const [a, b] = pair();
    a.elector.tick();
    expect(createDepartment(a.db, 'by-a', T0).ok).toBe(true);
    // The lease runs out while a is frozen; b takes over.
    b.db.prepare('UPDATE leader SET expires_ms = 0').run();
    b.elector.tick();
    expect(b.events).toEqual(['lead 2']);
    expect(() => createDepartment(a.db, 'late', T0)).toThrow(FencedError);
    a.elector.tick();
    expect(a.events.at(-1)).toMatch(/^down: fenced: /);
    expect(a.elector.state().role).toBe('standby');
    expect(createDepartment(b.db, 'by-b', T0).ok).toBe(true);
  });

  it('a leader that stops releases the lease; the standby leads at its next try', () => {
    const [a, b] = pair();
    a.elector.tick();
    b.elector.tick();
    a.elector.stop();
    expect(a.elector.state().role).toBe('stopped');
    b.elector.tick();
    expect(b.events).toEqual(['lead 2']);
  });

  it('a leader that resigns (its term could not start) frees the lease for the standby at once', () => {
    const [a, b] = pair();
    a.elector.tick();
    a.elector.stepDown('could not start leading');
    expect(a.events.at(-1)).toBe('down: could not start leading');
    b.elector.tick();
    expect(b.events).toEqual(['lead 2']);
  });
});
