/**
 * Two allocators in-process on one real PostgreSQL: the leader writes, the standby answers reads from
 * the database, forwards writes to the leader, sends agents there with 4307 and its URL, says where it
 * stands; the leader's clean stop hands over at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { forwardsToLeader } from '../../../allocator/ha/forward.ts';
import { type RunningAllocator, startAllocator } from '../../../allocator/main.ts';
import { leaderOfReason } from '../../../common/leader-close.ts';
import { WS_CLOSE } from '../../../common/wire.ts';
import {
  createDatabase,
  POSTGRES_MISSING,
  startPostgres,
  type TestPostgres,
} from '../../helpers/postgres.ts';
import { until } from '../../helpers/wait.ts';

const quiet = { write: () => true };

/** Long enough that a takeover by expiry cannot pass for one by release on a loaded machine. */
const LEASE_MS = 10_000;

describe('forwardsToLeader', () => {
  it('forwards writes and leader-memory reads, answers database reads and probes itself', () => {
    expect(forwardsToLeader('POST', '/api/v1/workloads')).toBe(true);
    expect(forwardsToLeader('DELETE', '/api/v1/workloads/w1')).toBe(true);
    expect(forwardsToLeader('GET', '/api/v1/workloads?project=a')).toBe(false);
    expect(forwardsToLeader('GET', '/api/v1/workloads/w1/logs?follow=1')).toBe(true);
    expect(forwardsToLeader('GET', '/api/v1/top')).toBe(true);
    expect(forwardsToLeader('GET', '/api/v1/history/nodes/n1?window=1h')).toBe(true);
    expect(forwardsToLeader('GET', '/serve/p/w/')).toBe(true);
    for (const p of ['/healthz', '/readyz', '/readyz/leader', '/leader', '/metrics'])
      expect(forwardsToLeader('GET', p)).toBe(false);
  });
});

describe.skipIf(POSTGRES_MISSING !== null)('a leader and a standby on one PostgreSQL', () => {
  let pg: TestPostgres;
  let leader: RunningAllocator;
  let standby: RunningAllocator;
  let leaderDir: string;
  let standbyDir: string;
  const open: RunningAllocator[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    const store = await createDatabase(pg.url);
    const { createLogger } = await import('../../../common/log.ts');
    const log = createLogger({ stream: quiet });
    leaderDir = mkdtempSync(join(tmpdir(), 'tessera-ha-'));
    standbyDir = mkdtempSync(join(tmpdir(), 'tessera-ha-'));
    leader = await startAllocator({ dataDir: leaderDir, port: 0, store, leaderLeaseMs: LEASE_MS, log });
    standby = await startAllocator({ dataDir: standbyDir, port: 0, store, leaderLeaseMs: LEASE_MS, log });
    open.push(leader, standby);
  }, 60_000);
  afterAll(async () => {
    for (const a of open) await a.close();
    await pg?.stop();
    for (const d of [leaderDir, standbyDir]) rmSync(d, { recursive: true, force: true });
  });

  const admin = () => readFileSync(join(leaderDir, 'admin-token'), 'utf8').trim();
  const call = (base: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('one leads, the other stands by naming it; only the leader wrote tokens', async () => {
    expect(leader.role()).toMatchObject({ role: 'leader', epoch: 1, leaderUrl: leader.url });
    expect(standby.role()).toMatchObject({ role: 'standby', leaderUrl: leader.url });
    expect((await (await fetch(`${standby.url}/leader`)).json()) as unknown).toMatchObject({
      role: 'standby',
    });
    expect((await fetch(`${standby.url}/readyz/leader`)).status).toBe(503);
    expect((await fetch(`${leader.url}/readyz/leader`)).status).toBe(200);
    expect(() => readFileSync(join(standbyDir, 'admin-token'))).toThrow();
    const metrics = await (await fetch(`${standby.url}/metrics`)).text();
    expect(metrics).toMatch(/^tessera_allocator_leader 0$/m);
  });

  it('the standby forwards a write to the leader and reads it back from the database', async () => {
    const created = await call(standby.url, 'POST', '/api/v1/departments', { name: 'via-standby' });
    expect(created.status).toBe(201);
    const list = (await (await call(standby.url, 'GET', '/api/v1/departments')).json()) as { name: string }[];
    expect(list.map((d) => d.name)).toContain('via-standby');
  });

  it("the standby closes an agent's link with 4307 naming the leader", async () => {
    const joinToken = readFileSync(join(leaderDir, 'join-token'), 'utf8').trim();
    const ws = new WebSocket(`${standby.url.replace('http', 'ws')}/api/v1/agents/connect`, {
      headers: { authorization: `Bearer ${joinToken}` },
    });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    expect(closed.code).toBe(WS_CLOSE.notLeader);
    expect(leaderOfReason(closed.reason)).toBe(leader.url);
  });

  it("the leader's clean stop releases the lease: the standby leads at its next try", async () => {
    // The standby tries every third of the lease; had the lease not been released, it could take it
    // only once expired, two thirds of a lease after the stop at the soonest: later than this wait.
    await leader.close();
    await until(() => standby.role().role === 'leader', 'the standby to lead', (LEASE_MS * 2) / 3 - 500);
    expect(standby.role().epoch).toBe(2);
    // It leads with the organisation the first leader made.
    const created = await call(standby.url, 'POST', '/api/v1/departments', { name: 'after-handover' });
    expect(created.status).toBe(201);
  });
});
