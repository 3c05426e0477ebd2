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
  type TokenStore,
} from '../../../allocator/link/tokens.ts';
import { ensureAccess } from '../../../allocator/store/access.ts';
import { type Db, openDb } from '../../../allocator/store/db.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tokenApi(): { app: FastifyInstance; tokens: TokenStore; admin: string; db: Db } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tokens-'));
  const db = openDb({ dataDir: dir });
  const tokens = memoryTokenStore();
  // The admin of a fresh allocator, as bootstrap makes it (every route checks access rules).
  ensureAccess(db, 'admin', 'admin', 'cluster', 0);
  const app = buildApi({ db, tokens });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => {
    db.close();
  });
  cleanups.push(() => app.close());
  return { app, tokens, admin: createUserToken(tokens, 'admin'), db };
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
        'revokedAt',
        'subject',
      ]);
    expect(r.body).not.toContain(join.split('.')[2]);
    expect(r.body).not.toContain(admin.split('.')[2]);
  });
});
