import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import {
  authenticate,
  createUserToken,
  memoryTokenStore,
  revokeToken,
  type TokenStore,
} from '../../../allocator/identity/index.ts';
import { ensureAccess } from '../../../allocator/store/access.ts';
import { type Db, openDb } from '../../../allocator/store/db.ts';
import { sqliteTokenStore } from '../../../allocator/store/tokens.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The API's clock: tests move it to expire tokens. */
const T0 = 1_700_000_000_000;

function tokenApi(): {
  app: FastifyInstance;
  tokens: TokenStore;
  admin: string;
  db: Db;
  clock: { ms: number };
} {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tokens-'));
  const db = openDb({ dataDir: dir });
  const tokens = memoryTokenStore();
  const clock = { ms: T0 };
  // The admin of a fresh allocator, as bootstrap makes it (every route checks access rules).
  ensureAccess(db, 'admin', 'admin', 'cluster', 0);
  const app = buildApi({ db, tokens, now: () => clock.ms });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => {
    db.close();
  });
  cleanups.push(() => app.close());
  return { app, tokens, admin: createUserToken(tokens, 'admin', { nowMs: T0 }), db, clock };
}

/** The answer of `POST /tokens` for a user token. */
interface Minted {
  token: string;
  id: string;
  subject: string;
  parent: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** Mints a user token with `bearer`; fails the test unless the API answers 201. */
async function mint(
  app: FastifyInstance,
  bearer: string,
  body: Record<string, string> = {},
): Promise<Minted> {
  const r = await app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    headers: { authorization: `Bearer ${bearer}` },
    payload: { kind: 'user', ...body },
  });
  expect(r.statusCode, r.body).toBe(201);
  return r.json() as Minted;
}

/** The HTTP status `GET /whoami` answers with `bearer`. */
async function whoami(app: FastifyInstance, bearer: string): Promise<number> {
  return (
    await app.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: `Bearer ${bearer}` } })
  ).statusCode;
}

/** A join token minted through the API by `admin`. */
async function createJoinToken(app: FastifyInstance, admin: string): Promise<string> {
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    headers: { authorization: `Bearer ${admin}` },
    payload: { kind: 'join' },
  });
  return (created.json() as { token: string }).token;
}

describe('token API', () => {
  it('refuses a request without a token or with a wrong one (401, one error shape)', async () => {
    const { app, admin } = tokenApi();
    const none = await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { kind: 'join' } });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'TESSERA_E_UNAUTHENTICATED' } });
    const forged = `${admin.slice(0, -4)}AAAA`;
    const wrong = await app.inject({
      method: 'GET',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('refuses a join token as an API token', async () => {
    const { app, admin } = tokenApi();
    const join = await createJoinToken(app, admin);
    const r = await app.inject({
      method: 'GET',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${join}` },
    });
    expect(r.statusCode).toBe(401);
  });

  it('mints a join token (201) that authenticate() accepts as kind join', async () => {
    const { app, admin, tokens } = tokenApi();
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${admin}` },
      payload: { kind: 'join' },
    });
    expect(r.statusCode).toBe(201);
    const body = r.json() as { token: string; kind: string };
    expect(body.kind).toBe('join');
    expect(body.token).toMatch(/^tj\./);
    expect(authenticate(tokens, body.token)).toEqual({ kind: 'join' });
  });

  it('refuses any other kind, naming the field', async () => {
    const { app, admin } = tokenApi();
    for (const payload of [{ kind: 'node' }, {}, { kind: 'join', extra: 1 }]) {
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${admin}` },
        payload,
      });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ error: { code: 'TESSERA_E_INVALID_SPEC' } });
      expect((r.json() as { error: { field?: string } }).error.field).toBeDefined();
    }
  });

  it('lists tokens with id, kind and subject, never their hash or secret', async () => {
    const { app, admin } = tokenApi();
    const auth = { authorization: `Bearer ${admin}` };
    const join = await createJoinToken(app, admin);
    const r = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: auth });
    expect(r.statusCode).toBe(200);
    const list = r.json() as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    expect(list).toContainEqual(
      expect.objectContaining({ id: admin.split('.')[1], kind: 'user', subject: 'admin' }),
    );
    expect(list).toContainEqual(
      expect.objectContaining({ id: join.split('.')[1], kind: 'join', subject: null }),
    );
    for (const t of list)
      expect(Object.keys(t).sort()).toEqual([
        'createdAt',
        'expiresAt',
        'id',
        'kind',
        'name',
        'parent',
        'revokedAt',
        'subject',
      ]);
    expect(r.body).not.toContain(join.split('.')[2]);
    expect(r.body).not.toContain(admin.split('.')[2]);
  });
});

describe('tokens minted from tokens', () => {
  const MIN = 60_000;
  const at = (ms: number) => new Date(ms).toISOString();

  it('a minted token expires no later than the token that made it; the answer gives the clamped expiry', async () => {
    const { app, admin } = tokenApi();
    const short = await mint(app, admin, { expiresIn: '5m' });
    expect(short).toMatchObject({ parent: admin.split('.')[1], expiresAt: at(T0 + 5 * MIN) });
    const forever = await mint(app, short.token);
    expect(forever).toMatchObject({ parent: short.id, expiresAt: at(T0 + 5 * MIN) });
    const longer = await mint(app, short.token, { expiresIn: '30d' });
    expect(longer.expiresAt).toBe(at(T0 + 5 * MIN));
    const sooner = await mint(app, short.token, { expiresIn: '1m' });
    expect(sooner.expiresAt).toBe(at(T0 + MIN));
  });

  it("an admin's token minted for another user is still the admin token's child, clamped alike", async () => {
    const { app, admin } = tokenApi();
    const made = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { authorization: `Bearer ${admin}` },
      payload: { name: 'alice' },
    });
    expect(made.statusCode).toBe(201);
    const short = await mint(app, admin, { expiresIn: '5m' });
    const alice = await mint(app, short.token, { user: 'alice', expiresIn: '90d' });
    expect(alice).toMatchObject({ subject: 'alice', parent: short.id, expiresAt: at(T0 + 5 * MIN) });
  });

  it('revoking a token revokes every token made from it, three levels down, and nothing above or beside', async () => {
    const { app, admin } = tokenApi();
    const t1 = await mint(app, admin);
    const t2 = await mint(app, t1.token);
    const t3 = await mint(app, t2.token);
    const sibling = await mint(app, admin);
    const r = await app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${t1.id}`,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(r.statusCode).toBe(200);
    for (const t of [t1, t2, t3]) expect(await whoami(app, t.token)).toBe(401);
    expect(await whoami(app, sibling.token)).toBe(200);
    expect(await whoami(app, admin)).toBe(200);
    const list = (
      await app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json() as Minted[];
    const revokedAt = (id: string) => list.find((t) => t.id === id)?.revokedAt;
    for (const t of [t1, t2, t3]) expect(revokedAt(t.id)).toBe(at(T0));
    expect(revokedAt(sibling.id)).toBeNull();
  });

  it('a token whose parent expired is refused, and so is minting with it', async () => {
    const { app, admin, clock } = tokenApi();
    const parent = await mint(app, admin, { expiresIn: '5m' });
    const child = await mint(app, parent.token);
    expect(await whoami(app, child.token)).toBe(200);
    clock.ms = T0 + 5 * MIN;
    expect(await whoami(app, parent.token)).toBe(401);
    expect(await whoami(app, child.token)).toBe(401);
    const late = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${parent.token}` },
      payload: { kind: 'user' },
    });
    expect(late.statusCode).toBe(401);
  });

  it('the SQLite store keeps each parent across a restart, so revocation still cascades', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-tokens-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = openDb({ dataDir: dir });
    const before = sqliteTokenStore(first, () => T0);
    const root = createUserToken(before, 'admin', { nowMs: T0, expiresMs: T0 + MIN });
    const rootId = root.split('.')[1] ?? '';
    const child = createUserToken(before, 'admin', { nowMs: T0, parent: rootId });
    first.close();
    const again = openDb({ dataDir: dir });
    cleanups.push(() => {
      again.close();
    });
    const after = sqliteTokenStore(again, () => T0);
    const childId = child.split('.')[1] ?? '';
    expect(after.get(childId)).toMatchObject({ parent: rootId, expiresMs: T0 + MIN });
    expect(after.byParent(rootId).map((t) => t.id)).toEqual([childId]);
    revokeToken(after, rootId, T0 + 1);
    expect(after.get(childId)?.revokedMs).toBe(T0 + 1);
    expect(authenticate(after, child, T0 + 2)).toBeNull();
  });

  it('authenticate refuses a token any of whose ancestors is revoked or expired, whatever its own expiry', () => {
    const tokens = memoryTokenStore();
    const root = createUserToken(tokens, 'admin', { nowMs: T0, expiresMs: T0 + MIN });
    const rootId = root.split('.')[1] ?? '';
    const mid = createUserToken(tokens, 'admin', { nowMs: T0, parent: rootId });
    const leaf = createUserToken(tokens, 'admin', { nowMs: T0, parent: mid.split('.')[1] ?? '' });
    // A record written with no expiry of its own (as rows made before expiries were clamped):
    const leafId = leaf.split('.')[1] ?? '';
    const record = tokens.get(leafId);
    if (record === undefined) throw new Error('no leaf');
    tokens.put({ ...record, expiresMs: null });
    expect(authenticate(tokens, leaf, T0)).toEqual({ kind: 'user', user: 'admin' });
    expect(authenticate(tokens, leaf, T0 + MIN)).toBeNull();
    const rootRecord = tokens.get(rootId);
    if (rootRecord === undefined) throw new Error('no root');
    tokens.put({ ...rootRecord, expiresMs: null, revokedMs: T0 });
    expect(authenticate(tokens, leaf, T0)).toBeNull();
  });
});
