/**
 * `POST /nodes/:name/reset` over the real API and link sharing one store: every credential of the
 * node is revoked, its live session is closed, and its name may be registered again by a join token,
 * once.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import { authenticate, createUserToken } from '../../../allocator/identity/index.ts';
import { ensureAccess } from '../../../allocator/store/access.ts';
import { getNode, setCordoned } from '../../../allocator/store/nodes.ts';
import { WS_CLOSE } from '../../../common/wire.ts';
import { connect, credentialOf, type Harness, hello, join, refusedStatus, startLink } from './harness.ts';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** The API over the link's store and tokens, with an admin and a viewer token. */
function apiFor(h: Harness): { app: FastifyInstance; admin: string; viewer: string } {
  ensureAccess(h.db, 'admin', 'admin', 'cluster', 0);
  ensureAccess(h.db, 'bob', 'viewer', 'cluster', 0);
  const app = buildApi({
    db: h.db,
    tokens: h.tokens,
    now: () => h.clock.ms,
    disconnectNode: (node, reason) => h.link.disconnect(node, reason),
  });
  apps.push(app);
  return { app, admin: createUserToken(h.tokens, 'admin'), viewer: createUserToken(h.tokens, 'bob') };
}

const reset = (app: FastifyInstance, token: string, node: string) =>
  app.inject({
    method: 'POST',
    url: `/api/v1/nodes/${node}/reset`,
    headers: { authorization: `Bearer ${token}` },
  });

describe('tessera node reset', () => {
  it('revokes the node credentials, closes its session, and lets a join token register the name once', async () => {
    const h = await startLink();
    const { app, admin } = apiFor(h);
    const real = await join(h.url, h.joinToken, 'n1');
    const old = credentialOf(real.welcome);
    setCordoned(h.db, 'n1', true);

    const r = await reset(app, admin, 'n1');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ node: 'n1', revokedCredentials: 1, disconnected: true });
    expect((await real.client.closed).code).toBe(WS_CLOSE.unauthenticated);
    expect(authenticate(h.tokens, old)).toBeNull();
    expect(await refusedStatus(h.url, old)).toBe(401);

    const again = await join(h.url, h.joinToken, 'n1');
    const fresh = credentialOf(again.welcome);
    expect(fresh).not.toBe(old);
    expect(authenticate(h.tokens, fresh)).toEqual({ kind: 'node', node: 'n1' });
    // The node keeps what the allocator knows of it (an admin's cordon), only its identity is new.
    expect(getNode(h.db, 'n1')?.cordoned).toBe(true);

    // One reset opens the name to one join: the next join token is refused again.
    const third = await connect(h.url, h.joinToken);
    third.send(hello('n1'));
    expect((await third.closed).code).toBe(WS_CLOSE.nodeExists);
    expect(h.link.connectedNodes()).toEqual(['n1']);
  });

  it('refuses the Hello of a connection opened with a credential revoked before it said Hello', async () => {
    const h = await startLink();
    const { app, admin } = apiFor(h);
    const first = await join(h.url, h.joinToken, 'n1');
    const old = credentialOf(first.welcome);
    first.client.ws.close();
    await first.client.closed;
    const pending = await connect(h.url, old);
    expect((await reset(app, admin, 'n1')).statusCode).toBe(200);
    pending.send(hello('n1'));
    expect((await pending.closed).code).toBe(WS_CLOSE.unauthenticated);
    // No credential was minted for it: the name is still open to the next join token.
    expect(h.tokens.bySubject('node', 'n1').every((t) => t.revokedMs !== null)).toBe(true);
    await join(h.url, h.joinToken, 'n1');
  });

  it('is an admin action, and names an unknown node', async () => {
    const h = await startLink();
    const { app, admin, viewer } = apiFor(h);
    await join(h.url, h.joinToken, 'n1');
    expect((await reset(app, viewer, 'n1')).statusCode).toBe(403);
    const unknown = await reset(app, admin, 'nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'TESSERA_E_NOT_FOUND' } });
    expect((unknown.json() as { error: { message: string } }).error.message).toContain('nope');
  });
});
