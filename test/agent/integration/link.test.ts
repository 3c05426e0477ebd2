/**
 * `createAgent` with a link: a sim node's agent dials an in-test allocator, says Hello with the sim
 * GPUs in its inventory, reports the link's state in `status().allocator`, and stops the link (a
 * normal close) when it closes. Also `resolveAllocator`, the `tessera agent` flags' rule.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/agent.ts';
import { resolveAllocator } from '../../../agent/main.ts';
import { until } from '../../helpers/wait.ts';
import { fakeAllocator, hellos, quietLog } from '../link/fixtures.ts';
import { type SimNode, simNode, startAgent } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('agent with an allocator link', () => {
  it('says Hello with its sim GPUs and reports the link in status().allocator', async () => {
    const alloc = await fakeAllocator();
    cleanups.push(() => alloc.close());
    const node: SimNode = await simNode('2xH100-80GB');
    cleanups.push(() => node.cleanup());
    const agent: Agent = await startAgent(node, {
      port: null,
      link: {
        url: alloc.url,
        token: 'join-secret',
        nodeName: 'node-a',
        heartbeatMs: 50,
        leaseMs: 5000,
        marginMs: 1000,
        log: quietLog,
      },
    });
    cleanups.push(() => agent.close());

    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 5000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    expect(c.req.headers.authorization).toBe('Bearer join-secret');
    const hello = hellos(c)[0];
    expect(hello).toMatchObject({ node: 'node-a', token: 'join-secret', runningPods: [] });
    expect(hello?.inventory.gpus).toEqual([
      expect.objectContaining({
        uuid: node.uuid(0),
        index: 0,
        memoryMiB: node.state.gpus[0]?.memoryTotalMiB,
      }),
      expect.objectContaining({ uuid: node.uuid(1), index: 1 }),
    ]);
    expect(agent.status().allocator).toEqual({ state: 'open', url: alloc.url, nodeId: null, connects: 1 });

    alloc.send(c, {
      case: 'welcome',
      value: { nodeId: 'n-1', heartbeatMs: 50, leaseMs: 5000, desiredPods: [], nodeCredential: null },
    });
    await until(() => agent.link?.state === 'welcomed', 'the Welcome applied', 2000);
    expect(agent.status().allocator).toEqual({
      state: 'welcomed',
      url: alloc.url,
      nodeId: 'n-1',
      connects: 1,
    });

    await agent.close();
    expect(agent.link?.state).toBe('stopped');
    await until(() => c.closed !== null, 'the link closed', 2000);
    expect(c.closed).toEqual({ code: 1000, reason: 'agent stopping' });
  });

  it('reports not connected without a link', async () => {
    const node = await simNode();
    cleanups.push(() => node.cleanup());
    const agent = await startAgent(node, { port: null });
    cleanups.push(() => agent.close());
    expect(agent.link).toBeNull();
    expect(agent.status().allocator).toBe('not connected');
  });
});

describe('resolveAllocator', () => {
  it('is null when no allocator is named', () => {
    expect(resolveAllocator({}, {}, 'host-1')).toEqual({ ok: true, value: null });
    expect(resolveAllocator({}, { TESSERA_URL: '', TESSERA_TOKEN: 't' }, 'host-1')).toEqual({
      ok: true,
      value: null,
    });
  });

  it("turns the allocator's base URL into its agent endpoint; flags win over env", () => {
    expect(resolveAllocator({ allocator: 'http://alloc:7400', token: 'tok' }, {}, 'host-1')).toEqual({
      ok: true,
      value: {
        url: 'ws://alloc:7400/api/v1/agents/connect',
        otherUrls: [],
        token: 'tok',
        nodeName: 'host-1',
        ca: null,
      },
    });
    expect(
      resolveAllocator(
        { node: 'gpu-07' },
        { TESSERA_URL: 'https://alloc.example/tessera/', TESSERA_TOKEN: 'env-tok' },
        'host-1',
      ),
    ).toEqual({
      ok: true,
      value: {
        url: 'wss://alloc.example/tessera/api/v1/agents/connect',
        otherUrls: [],
        token: 'env-tok',
        nodeName: 'gpu-07',
        ca: null,
      },
    });
    const r = resolveAllocator(
      { allocator: 'ws://a:1/api/v1/agents/connect', token: 'flag-tok' },
      { TESSERA_URL: 'http://other:2', TESSERA_TOKEN: 'env-tok' },
      'h',
    );
    expect(r).toEqual({
      ok: true,
      value: {
        url: 'ws://a:1/api/v1/agents/connect',
        otherUrls: [],
        token: 'flag-tok',
        nodeName: 'h',
        ca: null,
      },
    });
  });

  it('takes several allocators separated by commas (one leads, the others stand by)', () => {
    const r = resolveAllocator({ allocator: 'http://a:1, https://b:2/,ws://c:3', token: 't' }, {}, 'h');
    expect(r.ok && r.value).toMatchObject({
      url: 'ws://a:1/api/v1/agents/connect',
      otherUrls: ['wss://b:2/api/v1/agents/connect', 'ws://c:3/api/v1/agents/connect'],
    });
    const bad = resolveAllocator({ allocator: 'http://a:1,ftp://b', token: 't' }, {}, 'h');
    expect(bad.ok ? null : bad.error.message).toMatch(/ftp:\/\/b/);
  });

  it('takes the CA file from --ca over TESSERA_CA, naming where it came from', () => {
    const env = { TESSERA_URL: 'https://alloc:7400', TESSERA_TOKEN: 't', TESSERA_CA: '/etc/tessera/ca.crt' };
    const fromEnv = resolveAllocator({}, env, 'h');
    expect(fromEnv.ok && fromEnv.value?.ca).toEqual({ path: '/etc/tessera/ca.crt', from: 'TESSERA_CA' });
    const fromFlag = resolveAllocator({ ca: './ca.pem' }, env, 'h');
    expect(fromFlag.ok && fromFlag.value?.ca).toEqual({ path: './ca.pem', from: '--ca' });
  });

  it('refuses a bad URL, a missing or spaced token, and --token / --node / --ca without an allocator', () => {
    const field = (r: ReturnType<typeof resolveAllocator>) => (r.ok ? null : r.error.field);
    expect(field(resolveAllocator({ allocator: 'ftp://x', token: 't' }, {}, 'h'))).toBe('allocator');
    expect(field(resolveAllocator({ allocator: 'not a url', token: 't' }, {}, 'h'))).toBe('allocator');
    expect(field(resolveAllocator({ allocator: 'http://x:1' }, {}, 'h'))).toBe('token');
    expect(field(resolveAllocator({ allocator: 'http://x:1', token: 'a b' }, {}, 'h'))).toBe('token');
    expect(field(resolveAllocator({ token: 't' }, {}, 'h'))).toBe('token');
    expect(field(resolveAllocator({ node: 'n' }, {}, 'h'))).toBe('node');
    expect(field(resolveAllocator({ ca: 'ca.crt' }, {}, 'h'))).toBe('ca');
  });
});
