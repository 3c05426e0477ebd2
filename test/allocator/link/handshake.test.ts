import { describe, expect, it } from 'vitest';
import {
  authenticate,
  createJoinToken,
  issueNodeCredential,
  memoryTokenStore,
} from '../../../allocator/identity/index.ts';
import { getNode, upsertNode } from '../../../allocator/store/nodes.ts';
import { MAX_FRAME_BYTES, makeFrame, WS_CLOSE } from '../../../common/wire.ts';
import { T0 } from '../store/helpers.ts';
import { connect, credentialOf, hello, join, refusedStatus, startLink, status } from './harness.ts';

describe('tokens', () => {
  it('authenticates join tokens and node credentials, and nothing else', () => {
    const store = memoryTokenStore();
    const joinToken = createJoinToken(store);
    const cred = issueNodeCredential(store, 'n1');
    expect(authenticate(store, joinToken)).toEqual({ kind: 'join' });
    expect(authenticate(store, cred)).toEqual({ kind: 'node', node: 'n1' });
    expect(authenticate(store, `${cred}x`)).toBeNull();
    expect(authenticate(store, cred.replace(/^tn/, 'tj'))).toBeNull();
    expect(authenticate(store, 'garbage')).toBeNull();
    // Only hashes are stored.
    expect(JSON.stringify(store.list())).not.toContain(cred.split('.')[2]);
  });

  it('a new credential for a node revokes its earlier one', () => {
    const store = memoryTokenStore();
    const first = issueNodeCredential(store, 'n1');
    const second = issueNodeCredential(store, 'n1');
    expect(authenticate(store, first)).toBeNull();
    expect(authenticate(store, second)).toEqual({ kind: 'node', node: 'n1' });
  });
});

describe('agent link handshake', () => {
  it('refuses an upgrade without a token, or with a wrong one, with HTTP 401', async () => {
    const h = await startLink();
    expect(await refusedStatus(h.url, undefined)).toBe(401);
    expect(await refusedStatus(h.url, 'tj.0000000000000000.nope')).toBe(401);
    expect(h.link.stats()).toMatchObject({ refusedUpgrades: 2, connections: 0 });
  });

  it('answers another upgrade path with 404 and never opens a websocket', async () => {
    const h = await startLink();
    expect(await refusedStatus(h.url.replace('/connect', '/other'), h.joinToken)).toBe(404);
    expect(h.link.stats().connections).toBe(0);
  });

  it('registers a node with a join token: Welcome carries a fresh credential that then works alone', async () => {
    const h = await startLink({ leaseMs: 30_000, heartbeatMs: 1000 });
    const { client, welcome } = await join(h.url, h.joinToken, 'n1');
    expect(welcome.body.case).toBe('welcome');
    if (welcome.body.case !== 'welcome') return;
    expect(welcome.body.value).toMatchObject({
      nodeId: 'n1',
      heartbeatMs: 1000,
      leaseMs: 30_000,
      desiredPods: [],
    });
    const cred = welcome.body.value.nodeCredential;
    expect(cred).toMatch(/^tn\./);
    expect(getNode(h.db, 'n1')).toMatchObject({
      cpuMillis: 32_000,
      labels: { 'gpu.model': 'H100' },
      lost: false,
    });
    expect(h.changes).toEqual([{ node: 'n1', change: 'connected' }]);
    client.ws.close();
    await client.closed;

    const again = await join(h.url, cred ?? '', 'n1');
    expect(credentialOf(again.welcome)).toMatch(/^tn\./);
  });

  it('rotates the credential on each connection; the presented one lasts until its successor is used', async () => {
    const h = await startLink();
    const first = await join(h.url, h.joinToken, 'n1');
    const a = credentialOf(first.welcome);
    first.client.ws.close();
    await first.client.closed;

    const second = await join(h.url, a, 'n1');
    const b = credentialOf(second.welcome);
    expect(b).not.toBe(a);
    // The Welcome carrying b may never have reached the agent: a must still bring it back.
    expect(authenticate(h.tokens, a)).toEqual({ kind: 'node', node: 'n1' });
    expect(authenticate(h.tokens, b)).toEqual({ kind: 'node', node: 'n1' });
    second.client.ws.close();
    await second.client.closed;

    // Coming back with b proves it arrived: a is gone, b and its successor work.
    const third = await join(h.url, b, 'n1');
    const c = credentialOf(third.welcome);
    expect(authenticate(h.tokens, a)).toBeNull();
    expect(await refusedStatus(h.url, a)).toBe(401);
    expect(authenticate(h.tokens, b)).toEqual({ kind: 'node', node: 'n1' });
    expect(authenticate(h.tokens, c)).toEqual({ kind: 'node', node: 'n1' });
    expect(h.tokens.bySubject('node', 'n1')).toHaveLength(2);
  });

  it("refuses a join token naming a registered node (4423) and leaves that node's session and credential alone", async () => {
    const h = await startLink();
    const real = await join(h.url, h.joinToken, 'n1');
    const cred = credentialOf(real.welcome);
    const impostor = await connect(h.url, h.joinToken);
    impostor.send(hello('n1'));
    const closed = await impostor.closed;
    expect(closed.code).toBe(WS_CLOSE.nodeExists);
    expect(closed.reason).toContain('n1 is already registered');
    expect(closed.reason).toContain('tessera node reset n1');
    // The real node's session is untouched: still the one session, still answered.
    expect(h.link.connectedNodes()).toEqual(['n1']);
    expect(h.changes).toEqual([{ node: 'n1', change: 'connected' }]);
    real.client.send(status(1));
    expect((await real.client.next()).body).toMatchObject({ case: 'ack', value: { seq: 1 } });
    expect(real.client.ws.readyState).toBe(real.client.ws.OPEN);
    expect(authenticate(h.tokens, cred)).toEqual({ kind: 'node', node: 'n1' });
    expect(h.tokens.bySubject('node', 'n1')).toHaveLength(1);
  });

  it('refuses a join token naming a node the store knows even while it is offline', async () => {
    const h = await startLink();
    upsertNode(h.db, { name: 'n2', labels: {}, gpus: [], cpuMillis: 1000, memoryMiB: 1024 }, T0);
    const impostor = await connect(h.url, h.joinToken);
    impostor.send(hello('n2'));
    expect((await impostor.closed).code).toBe(WS_CLOSE.nodeExists);
    expect(getNode(h.db, 'n2')?.cpuMillis).toBe(1000);
    expect(h.tokens.bySubject('node', 'n2')).toEqual([]);
  });

  it("closes with 4403 when a node's credential says Hello as another node", async () => {
    const h = await startLink();
    const cred = issueNodeCredential(h.tokens, 'a');
    const client = await connect(h.url, cred);
    client.send(hello('b'));
    expect((await client.closed).code).toBe(WS_CLOSE.forbidden);
    expect(getNode(h.db, 'b')).toBeUndefined();
  });

  it('closes with 4400 on a garbage frame, naming the decode error', async () => {
    const h = await startLink();
    const client = await connect(h.url, h.joinToken);
    client.ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    const closed = await client.closed;
    expect(closed.code).toBe(WS_CLOSE.badFrame);
    expect(closed.reason).toContain('TESSERA_E_BAD_FRAME');
  });

  it('closes with 4400 when the first frame is not Hello, and on a text frame', async () => {
    const h = await startLink();
    const a = await connect(h.url, h.joinToken);
    a.send(makeFrame({ case: 'ack', value: { seq: 1 } }));
    expect((await a.closed).code).toBe(WS_CLOSE.badFrame);
    const b = await connect(h.url, h.joinToken);
    b.ws.send('hello');
    expect((await b.closed).code).toBe(WS_CLOSE.badFrame);
  });

  it('closes with 4403 when an agent sends an allocator-only frame', async () => {
    const h = await startLink();
    const client = await connect(h.url, h.joinToken);
    client.send(
      makeFrame({ case: 'stopPod', value: { podId: 'w_p-0', epoch: 1, reason: 'x', graceSeconds: 1 } }),
    );
    expect((await client.closed).code).toBe(WS_CLOSE.forbidden);
  });

  it('closes with 4400 a connection that sends no Hello in time', async () => {
    const h = await startLink({ helloTimeoutMs: 50 });
    const client = await connect(h.url, h.joinToken);
    const closed = await client.closed;
    expect(closed).toMatchObject({ code: WS_CLOSE.badFrame, reason: expect.stringContaining('no hello') });
  });

  it('closes with 1009 on a frame over the 1 MiB limit', async () => {
    const h = await startLink();
    const client = await connect(h.url, h.joinToken);
    client.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1));
    expect((await client.closed).code).toBe(WS_CLOSE.tooBig);
  });
});
