import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  afterCheck,
  type CheckResult,
  firstCheckDelayMs,
  type ProbeTimers,
  startProber,
} from '../../../agent/runner/probe.ts';
import { runCheck } from '../../../agent/runner/probe-check.ts';
import type { ProbeSpec } from '../../../agent/runner/types.ts';

const spec = (over: Partial<ProbeSpec> = {}): ProbeSpec => ({
  kind: 'http',
  port: 1,
  path: '/health',
  initialDelayMs: 0,
  periodMs: 1000,
  timeoutMs: 500,
  failureThreshold: 3,
  ...over,
});

const pass: CheckResult = { ok: true, why: 'answered 200' };
const fail: CheckResult = { ok: false, why: 'answered 503' };

describe('probe decisions', () => {
  it('a pod not ready becomes ready on its first pass; failures before that change nothing', () => {
    let s = { ready: false, failures: 0 };
    for (let i = 0; i < 5; i++) {
      const step = afterCheck(s, fail, 3);
      expect(step.change).toBeNull();
      s = step.state;
    }
    expect(afterCheck(s, pass, 3)).toEqual({ state: { ready: true, failures: 0 }, change: 'ready' });
  });

  it('a ready pod goes unready only at failureThreshold consecutive failures, once; a pass resets the count', () => {
    let s = { ready: true, failures: 0 };
    s = afterCheck(s, fail, 3).state;
    s = afterCheck(s, fail, 3).state;
    // A pass between failures starts the count again.
    const reset = afterCheck(s, pass, 3);
    expect(reset).toEqual({ state: { ready: true, failures: 0 }, change: null });
    s = reset.state;
    const changes = [fail, fail, fail, fail].map((r) => {
      const step = afterCheck(s, r, 3);
      s = step.state;
      return step.change;
    });
    expect(changes).toEqual([null, null, 'unready', null]);
    expect(afterCheck(s, pass, 3).change).toBe('ready');
  });

  it('the first check waits for what is left of the initial delay', () => {
    expect(firstCheckDelayMs(spec({ initialDelayMs: 5000 }), 1000, 2500)).toBe(3500);
    expect(firstCheckDelayMs(spec({ initialDelayMs: 5000 }), 1000, 9000)).toBe(0);
  });
});

/** A fake clock: timers fire only when `advance` passes them. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: ProbeTimers = {
    set(fn, ms) {
      const id = next++;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clear(h) {
      pending.delete(h as number);
    },
  };
  /** Moves the clock forward, firing due timers in order and letting their checks settle. */
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].fn();
      // The check is a promise: let it and the prober's continuation run.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    now = end;
  };
  return { timers, advance, pending: () => pending.size, now: () => now };
}

describe('prober schedule (fake clock)', () => {
  it('checks after the initial delay, then every period; ready on the first pass, unready after the threshold', async () => {
    const clock = fakeTimers();
    const answers = [fail, fail, pass, pass, fail, fail, fail, pass];
    const checkedAt: number[] = [];
    const changes: Array<[number, boolean, string]> = [];
    const prober = startProber({
      spec: spec({ initialDelayMs: 3000, periodMs: 1000, failureThreshold: 3 }),
      firstDelayMs: 3000,
      timers: clock.timers,
      check: async () => {
        checkedAt.push(clock.now());
        return answers.shift() ?? pass;
      },
      onChange: (ready, why) => changes.push([clock.now(), ready, why]),
    });
    await clock.advance(2999);
    expect(checkedAt).toEqual([]);
    await clock.advance(8000);
    expect(checkedAt).toEqual([3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    expect(changes).toEqual([
      [5000, true, 'answered 200'],
      [9000, false, '3 consecutive failed checks, last: answered 503'],
      [10_000, true, 'answered 200'],
    ]);
    // One timer per pod, and none after stop.
    expect(clock.pending()).toBe(1);
    prober.stop();
    expect(clock.pending()).toBe(0);
  });

  it('never runs two checks of one pod at once: the next period starts when the answer comes', async () => {
    const clock = fakeTimers();
    let inFlight = 0;
    let most = 0;
    let release: () => void = () => {};
    startProber({
      spec: spec({ periodMs: 100 }),
      firstDelayMs: 0,
      timers: clock.timers,
      check: () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        return new Promise((resolve) => {
          release = () => {
            inFlight -= 1;
            resolve(pass);
          };
        });
      },
      onChange: () => {},
    });
    await clock.advance(1000);
    expect(clock.pending()).toBe(0);
    release();
    await clock.advance(0);
    expect(clock.pending()).toBe(1);
    expect(most).toBe(1);
  });

  it('an adopted ready pod stays ready until the threshold; a check that throws counts as a failure', async () => {
    const clock = fakeTimers();
    const changes: boolean[] = [];
    const prober = startProber({
      spec: spec({ periodMs: 10, failureThreshold: 2 }),
      ready: true,
      firstDelayMs: 0,
      timers: clock.timers,
      check: async () => {
        throw new Error('boom');
      },
      onChange: (ready) => changes.push(ready),
    });
    await clock.advance(5);
    expect(changes).toEqual([]);
    await clock.advance(10);
    expect(changes).toEqual([false]);
    expect(prober.state).toEqual({ ready: false, failures: 2 });
    prober.stop();
  });
});

describe('probe checks (real sockets on port 0)', () => {
  const servers: Array<{ close: () => void }> = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  async function http(handler: Parameters<typeof createServer>[1]): Promise<number> {
    const server: Server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push({ close: () => server.close() });
    return (server.address() as AddressInfo).port;
  }

  it('http: 200-399 passes, others fail, the path is the one asked for', async () => {
    const seen: string[] = [];
    const port = await http((req, res) => {
      seen.push(req.url ?? '');
      const code = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
      res.writeHead(code).end('x'.repeat(100_000));
    });
    expect(await runCheck(spec({ port, path: '/ok' }))).toEqual({
      ok: true,
      why: `GET http://127.0.0.1:${port}/ok answered 200`,
    });
    expect((await runCheck(spec({ port, path: '/moved' }))).ok).toBe(true);
    expect(await runCheck(spec({ port, path: '/health' }))).toEqual({
      ok: false,
      why: `GET http://127.0.0.1:${port}/health answered 503`,
    });
    expect(seen).toEqual(['/ok', '/moved', '/health']);
  });

  it('http: a server that never answers fails at the timeout; nothing listening fails at once', async () => {
    const port = await http(() => {});
    const started = Date.now();
    expect(await runCheck(spec({ port, timeoutMs: 200 }))).toEqual({
      ok: false,
      why: 'no answer within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(2000);
    const closed = await freePort();
    const r = await runCheck(spec({ port: closed }));
    expect(r).toEqual({ ok: false, why: `GET http://127.0.0.1:${closed}/health: ECONNREFUSED` });
  });

  it('tcp: an accepting port passes, a closed one fails', async () => {
    const server = createTcpServer((s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push({ close: () => server.close() });
    const port = (server.address() as AddressInfo).port;
    expect(await runCheck(spec({ kind: 'tcp', port, path: null }))).toEqual({
      ok: true,
      why: `tcp 127.0.0.1:${port} accepted a connection`,
    });
    const closed = await freePort();
    expect((await runCheck(spec({ kind: 'tcp', port: closed, path: null }))).ok).toBe(false);
  });
});

/** A port nothing listens on: bound to learn a free number, then closed. */
async function freePort(): Promise<number> {
  const s = createTcpServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
