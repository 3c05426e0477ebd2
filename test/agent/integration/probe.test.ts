/**
 * A readiness probe through the whole agent: an in-test allocator sends a StartPod whose readiness
 * carries an HTTP probe; the agent starts a real pod (a small HTTP server that answers 503 while it
 * "loads", then 200) and the Status frames it sends say `running` until the probe passes, `ready`
 * after, and `running` again once the server stops answering.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { StartPod, WirePodState } from '../../../common/wire.ts';
import { until } from '../../helpers/wait.ts';
import { noContainer } from '../../wire-pod-spec.ts';
import { type Conn, fakeAllocator, hellos, quietLog, statuses } from '../link/fixtures.ts';
import { simNode, startAgent } from './helpers.ts';

const SERVER = fileURLToPath(new URL('../runner/fixtures/probe-server.mjs', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

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

/** The pod's states as the Status frames reported them, repeats folded. */
function reportedStates(c: Conn, podId: string): WirePodState[] {
  const out: WirePodState[] = [];
  for (const s of statuses(c))
    for (const p of s.podStates) if (p.podId === podId && out.at(-1) !== p.state) out.push(p.state);
  return out;
}

describe('agent: readiness probe from a StartPod', () => {
  it('reports running until the probe passes, ready after, running again when the server stops answering', async () => {
    const alloc = await fakeAllocator();
    cleanups.push(() => alloc.close());
    const node = await simNode();
    cleanups.push(() => node.cleanup());
    const agent = await startAgent(node, {
      port: null,
      link: {
        url: alloc.url,
        token: 'join-secret',
        nodeName: 'node-a',
        heartbeatMs: 50,
        leaseMs: 10_000,
        marginMs: 1000,
        log: quietLog,
      },
    });
    cleanups.push(() => agent.close());
    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 5000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, {
      case: 'welcome',
      value: { nodeId: 'n-1', heartbeatMs: 50, leaseMs: 10_000, desiredPods: [], nodeCredential: null },
    });
    const acks = setInterval(() => alloc.send(c, { case: 'ack', value: { seq: 1 } }), 50);
    cleanups.push(() => clearInterval(acks));

    const port = await freePort();
    const start: StartPod = {
      podId: 'chat-0',
      epoch: 1,
      spec: {
        workload: 'chat',
        project: 'nlp',
        command: [process.execPath, SERVER],
        env: { PORT: String(port), WARMUP_REQUESTS: '3' },
        networkEnv: {},
        workingDir: null,
        priority: 125,
        graceSeconds: 1,
        readiness: {
          linePrefix: null,
          delayMs: 0,
          probe: {
            kind: 'http',
            port,
            path: '/health',
            initialDelayMs: 0,
            periodMs: 100,
            timeoutMs: 500,
            failureThreshold: 2,
          },
        },
        rescheduleAfterMs: null,
        ...noContainer(),
      },
      gpuGrants: [],
    };
    alloc.send(c, { case: 'startPod', value: start });
    const podId = start.podId;
    await until(() => reportedStates(c, podId).includes('ready'), 'ready reported', 15_000);
    node.track(agent.status().pods.find((p) => p.podId === podId)?.pid);
    // Three 503s while it "loaded": the allocator saw it running (not ready) first.
    expect(reportedStates(c, podId).filter((s) => s !== 'starting')).toEqual(['running', 'ready']);
    expect(await get(port, '/hang')).toBe(200);
    await until(() => reportedStates(c, podId).at(-1) === 'running', 'running reported again', 15_000);
    expect(reportedStates(c, podId).slice(-3)).toEqual(['running', 'ready', 'running']);
  });
});
