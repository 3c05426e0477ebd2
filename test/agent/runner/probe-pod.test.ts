import { once } from 'node:events';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readLogTail } from '../../../agent/runner/logs.ts';
import type { PodRunState, ProbeSpec } from '../../../agent/runner/types.ts';
import { until } from '../../helpers/wait.ts';
import { type Harness, harness, NODE_BIN, podSpec, value } from './helpers.ts';

const SERVER = fileURLToPath(new URL('./fixtures/probe-server.mjs', import.meta.url));

let h: Harness;
afterEach(() => h.cleanup());

/** A port nothing listens on: bound on port 0 to learn a free number, then closed. */
async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const states = (): PodRunState[] => h.statuses.filter((s) => s.podId === 'p1').map((s) => s.state);

describe('runner: readiness probe on a real pod', () => {
  const probeOn = (port: number): ProbeSpec => ({
    kind: 'http',
    port,
    path: '/health',
    initialDelayMs: 0,
    periodMs: 100,
    timeoutMs: 500,
    failureThreshold: 3,
  });
  const server = (port: number, probe: ProbeSpec) =>
    podSpec({
      command: [NODE_BIN, SERVER],
      env: { PORT: String(port), WARMUP_REQUESTS: '3' },
      // The line rule would make it ready on its first output: a probe turns it off.
      readiness: { linePrefix: 'listening', delayMs: null, probe },
    });

  it('ready only once the probe passes, running again when the server stops answering', async () => {
    h = harness();
    const port = await freePort();
    value(h.runner.start(server(port, probeOn(port))));
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready after the probe passed', 10_000);
    const events = readLogTail(h.runner.podDir('p1'), 1 << 16, 'events');
    // Three 503s first: the pod was running, not ready, while its server warmed up.
    expect(events).toContain(`ready (GET http://127.0.0.1:${port}/health answered 200)`);
    expect(states()).toEqual(['starting', 'running', 'ready']);

    expect(await get(port, '/hang')).toBe(200);
    await until(() => h.runner.get('p1')?.state === 'running', 'not ready once it stopped answering', 10_000);
    expect(states()).toEqual(['starting', 'running', 'ready', 'running']);
    expect(readLogTail(h.runner.podDir('p1'), 1 << 16, 'events')).toMatch(
      /not ready \(3 consecutive failed checks, last: GET http:\/\/127\.0\.0\.1:\d+\/health: ECONNREFUSED\)/,
    );
    // The process still runs; only its readiness went.
    expect(h.runner.get('p1')?.pid).not.toBeNull();
    value(await h.runner.stop('p1', 'test over'));
    expect(h.runner.get('p1')?.state).toBe('exited');
  });

  it('a restarted agent adopts a ready pod and goes on probing it', async () => {
    h = harness();
    const port = await freePort();
    value(h.runner.start(server(port, probeOn(port))));
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready', 10_000);
    h.runner.close();
    const next = h.restart();
    expect(value(await next.runner.adopt()).adopted.map((s) => s.state)).toEqual(['ready']);
    expect(next.runner.specOf('p1')?.readiness?.probe).toEqual(probeOn(port));
    expect(await get(port, '/hang')).toBe(200);
    await until(() => next.runner.get('p1')?.state === 'running', 'not ready after adoption', 10_000);
    value(await next.runner.stop('p1', 'test over'));
  });
});
