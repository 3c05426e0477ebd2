/** The link against several allocators: a standby's close names the leader, a dead one is skipped. */
import { afterEach, describe, expect, it } from 'vitest';
import { createLink } from '../../../agent/link/client.ts';
import { leaderCloseReason } from '../../../common/leader-close.ts';
import { WS_CLOSE } from '../../../common/wire.ts';
import { freePort } from '../../helpers/registry.ts';
import { until } from '../../helpers/wait.ts';
import { fakeAgent, fakeAllocator, hellos, quietLog } from './fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('agent link with several allocators', () => {
  it('skips an allocator that refuses the connection and follows the leader a standby names', async () => {
    const standby = await fakeAllocator();
    const leader = await fakeAllocator();
    cleanups.push(
      () => standby.close(),
      () => leader.close(),
    );
    // Nothing listens here: the first dial is refused, the second reaches the standby.
    const dead = `ws://127.0.0.1:${await freePort()}/api/v1/agents/connect`;
    const link = createLink({
      url: dead,
      otherUrls: [standby.url],
      token: 'join-secret',
      nodeName: 'node-a',
      agent: fakeAgent(),
      heartbeatMs: 50,
      leaseMs: 5000,
      marginMs: 1000,
      backoff: { initialMs: 20, maxMs: 100 },
      random: () => 0.5,
      log: quietLog,
    });
    cleanups.push(() => link.stop());
    link.start();
    const atStandby = await until(() => standby.conns[0], 'a dial to the standby', 3000);
    atStandby.ws.close(
      WS_CLOSE.notLeader,
      leaderCloseReason(leader.url.replace('/api/v1/agents/connect', '')),
    );
    await until(
      () => leader.conns[0] !== undefined && hellos(leader.conns[0]).length === 1,
      'Hello at the leader',
      3000,
    );
    expect(standby.conns).toHaveLength(1);
  });

  it('gives up on an allocator silent past a quarter of the lease (frozen) and dials the next one', async () => {
    const frozen = await fakeAllocator();
    const next = await fakeAllocator();
    cleanups.push(
      () => frozen.close(),
      () => next.close(),
    );
    const link = createLink({
      url: frozen.url,
      otherUrls: [next.url],
      token: 'join-secret',
      nodeName: 'node-a',
      agent: fakeAgent(),
      heartbeatMs: 50,
      leaseMs: 5000,
      marginMs: 1000,
      backoff: { initialMs: 20, maxMs: 100 },
      random: () => 0.5,
      log: quietLog,
    });
    cleanups.push(() => link.stop());
    link.start();
    const c = await until(() => frozen.conns[0], 'a dial to the first allocator', 3000);
    // Welcomed with a 400 ms lease, then never a frame again: silent past max(3 heartbeats, lease / 4).
    frozen.send(c, {
      case: 'welcome',
      value: { nodeId: 'node-a', heartbeatMs: 50, leaseMs: 400, desiredPods: [], nodeCredential: null },
    });
    await until(
      () => next.conns[0] !== undefined && hellos(next.conns[0]).length === 1,
      'Hello at the next allocator',
      3000,
    );
  });
});
