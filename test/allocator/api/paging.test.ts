/**
 * List paging, as Kubernetes lists do it: `?limit=N` answers at most N rows, and while more remain
 * the `Tessera-Continue` header carries an opaque token that `?continue=` takes to read on. The body
 * stays a bare array, so a client that never pages still reads the shape it always did.
 */
import { describe, expect, it } from 'vitest';
import { inTransaction } from '../../../allocator/store/db.ts';
import { submitWorkload } from '../../../allocator/store/workloads.ts';
import { seedOrg, T0, testApi, trainingSpec } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

const CONTINUE = 'tessera-continue';

/** Stores `n` training workloads `w-0` .. `w-(n-1)` in one transaction, all at T0 (ties in time). */
function many(api: ReturnType<typeof testApi>, n: number): void {
  inTransaction(api.db, () => {
    for (let i = 0; i < n; i++) {
      const r = submitWorkload(api.db, trainingSpec(`w-${i}`), T0);
      if (!r.ok) throw new Error(r.error.message);
    }
  });
}

/** GETs `url`: status, the names in the body and the continue header. */
async function page(api: ReturnType<typeof testApi>, url: string) {
  const res = await api.app.inject({ method: 'GET', url });
  const body: unknown = res.json();
  const token = res.headers[CONTINUE];
  return {
    status: res.statusCode,
    body,
    names: Array.isArray(body) ? body.map((w: { name: string }) => w.name) : [],
    next: typeof token === 'string' ? token : null,
  };
}

describe('GET /workloads paging', () => {
  it('answers limit rows with a continue token, and the token reads on until no token is left', async () => {
    const api = testApi();
    await seedOrg(api);
    many(api, 5);
    const first = await page(api, '/api/v1/workloads?limit=2');
    expect(first.names).toEqual(['w-0', 'w-1']);
    expect(first.next).not.toBeNull();
    const second = await page(api, `/api/v1/workloads?limit=2&continue=${first.next}`);
    expect(second.names).toEqual(['w-2', 'w-3']);
    const last = await page(api, `/api/v1/workloads?limit=2&continue=${second.next}`);
    expect(last.names).toEqual(['w-4']);
    expect(last.next).toBeNull();
  });

  it('keeps the filters across pages', async () => {
    const api = testApi();
    await seedOrg(api);
    many(api, 4);
    const a = await page(api, '/api/v1/workloads?phase=Pending&project=vision&limit=3');
    const b = await page(api, `/api/v1/workloads?phase=Pending&project=vision&limit=3&continue=${a.next}`);
    expect([...a.names, ...b.names]).toEqual(['w-0', 'w-1', 'w-2', 'w-3']);
    expect(b.next).toBeNull();
  });

  it('answers at most 500 rows without a limit, and refuses a limit over 1000 naming limit', async () => {
    const api = testApi();
    await seedOrg(api);
    many(api, 501);
    const first = await page(api, '/api/v1/workloads');
    expect(first.names).toHaveLength(500);
    expect((await page(api, `/api/v1/workloads?continue=${first.next}`)).names).toEqual(['w-500']);
    expect((await page(api, '/api/v1/workloads?limit=1000')).names).toHaveLength(501);
    const over = await page(api, '/api/v1/workloads?limit=1001');
    expect(over.status).toBe(400);
    expect((over.body as ErrorBody).error.field).toBe('limit');
    expect((await page(api, '/api/v1/workloads?limit=0')).status).toBe(400);
  });

  it('refuses a continue token it did not give out, naming continue and how to recover', async () => {
    const api = testApi();
    await seedOrg(api);
    for (const bad of ['nonsense', 'bm90LWpzb24', Buffer.from('[1,"x"]').toString('base64url'), '']) {
      const r = await page(api, `/api/v1/workloads?continue=${bad}`);
      expect(r.status, bad).toBe(400);
      const e = (r.body as ErrorBody).error;
      expect(e).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field: 'continue' });
      expect(e.message).toContain('start again without continue');
    }
  });
});

describe('GET /workloads/:id/events paging', () => {
  it('pages the events of a workload the same way', async () => {
    const api = testApi();
    await seedOrg(api);
    const id = ((await api.call('POST', '/api/v1/workloads', trainingSpec('a'))).body as { id: string }).id;
    await api.call('POST', `/api/v1/workloads/${id}/stop`);
    await api.call('POST', `/api/v1/workloads/${id}/run`);
    const all = await page(api, `/api/v1/workloads/${id}/events`);
    const tos = (b: unknown) => (b as { to: string }[]).map((e) => e.to);
    expect(tos(all.body)).toEqual(['Creating', 'Pending', 'Stopped', 'Pending']);
    expect(all.next).toBeNull();
    const first = await page(api, `/api/v1/workloads/${id}/events?limit=3`);
    expect(tos(first.body)).toEqual(['Creating', 'Pending', 'Stopped']);
    const rest = await page(api, `/api/v1/workloads/${id}/events?limit=3&continue=${first.next}`);
    expect(tos(rest.body)).toEqual(['Pending']);
    expect(rest.next).toBeNull();
    expect((await page(api, `/api/v1/workloads/${id}/events?continue=zzz`)).status).toBe(400);
  });
});
