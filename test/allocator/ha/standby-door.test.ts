/**
 * A term that ends hands agents' upgrades to the standby door at once: the ending link stops taking
 * them before the door attaches, so no socket is upgraded twice (ws throws, and the throw took down
 * a stepping-down allocator).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { attachStandbyDoor } from '../../../allocator/ha/standby-door.ts';
import { createJoinToken, memoryTokenStore } from '../../../allocator/identity/index.ts';
import { attachAgentLink } from '../../../allocator/link/server.ts';
import { leaderOfReason } from '../../../common/leader-close.ts';
import { createLogger } from '../../../common/log.ts';
import { WS_CLOSE } from '../../../common/wire.ts';
import { connect } from '../link/harness.ts';
import { openTemp, T0 } from '../store/helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('standby door after a term', () => {
  it('takes every upgrade once the ending link refuses new ones, while the link winds down', async () => {
    const tokens = memoryTokenStore();
    const server = createServer((_req, res) => res.writeHead(404).end());
    const link = attachAgentLink(server, { db: openTemp(), tokens, leaseCheckMs: 0, now: () => T0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    cleanups.push(async () => {
      process.off('uncaughtException', onUncaught);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/agents/connect`;
    const token = createJoinToken(tokens);
    // As a step-down does it: the link refuses new agents first, the door attaches, the link closes later.
    link.refuseNew();
    const log = createLogger({ stream: { write: () => true } });
    const closeDoor = attachStandbyDoor(server, { tokens, leaderUrl: () => 'https://leader:8443', log });
    cleanups.push(async () => closeDoor());
    for (let i = 0; i < 3; i += 1) {
      const client = await connect(url, token);
      const closed = await client.closed;
      expect(closed.code).toBe(WS_CLOSE.notLeader);
      expect(leaderOfReason(closed.reason)).toBe('https://leader:8443');
    }
    await link.close();
    expect(uncaught).toEqual([]);
  });
});
