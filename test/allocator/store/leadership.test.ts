/**
 * The leader lease repository on SQLite (two connections to one file stand in for two allocators)
 * and, where PostgreSQL's binaries exist, on a real PostgreSQL: the same cases run on both.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../../allocator/store/db.ts';
import { FencedError } from '../../../allocator/store/errors.ts';
import {
  acquireLeader,
  claimLeader,
  leaderFence,
  readLeader,
  releaseLeader,
  renewLeader,
} from '../../../allocator/store/leadership.ts';
import { createDepartment, listQueues } from '../../../allocator/store/org.ts';
import { T0 } from './helpers.ts';
import { storeBackends } from './leadership-backends.ts';

const a = { holder: 'alloc-a', url: 'http://a:7400', leaseMs: 60_000 };
const b = { holder: 'alloc-b', url: 'http://b:7400', leaseMs: 60_000 };

/** Forces the lease to have run out, as time passing would. */
function expire(db: Db): void {
  db.prepare('UPDATE leader SET expires_ms = 0 WHERE id = 1').run();
}

describe.each(storeBackends())('leader lease on $name', (backend) => {
  it('starts held by nobody; one UPDATE takes it, so only the first of two allocators gets it', async () => {
    const [one, two] = await backend.pair();
    expect(readLeader(one)).toMatchObject({ holder: '', epoch: 0 });
    expect(acquireLeader(one, a)).toBe(1);
    expect(acquireLeader(two, b)).toBeNull();
    const lease = readLeader(two);
    expect(lease).toMatchObject({ holder: 'alloc-a', url: 'http://a:7400', epoch: 1 });
    // Times come from the database's clock, about a lease from its now.
    expect(lease.expiresMs - lease.nowMs).toBeGreaterThan(50_000);
    expect(lease.expiresMs - lease.nowMs).toBeLessThanOrEqual(60_000);
  });

  it('renews only for its holder and epoch; a takeover after expiry bumps the epoch', async () => {
    const [one, two] = await backend.pair();
    const e1 = acquireLeader(one, a) ?? 0;
    expect(renewLeader(one, a, e1)).toBe(true);
    expect(renewLeader(two, b, e1)).toBe(false);
    expire(one);
    expect(acquireLeader(two, b)).toBe(e1 + 1);
    expect(renewLeader(one, a, e1)).toBe(false);
    expect(readLeader(one)).toMatchObject({ holder: 'alloc-b', epoch: e1 + 1 });
  });

  it('a release lets the next allocator take over at once', async () => {
    const [one, two] = await backend.pair();
    const e1 = acquireLeader(one, a) ?? 0;
    expect(releaseLeader(one, 'alloc-a', e1)).toBe(true);
    expect(acquireLeader(two, b)).toBe(e1 + 1);
    expect(releaseLeader(one, 'alloc-a', e1)).toBe(false);
  });

  it("the fence refuses a deposed leader's writes, transactions and lone statements alike", async () => {
    const [one, two] = await backend.pair();
    const e1 = acquireLeader(one, a) ?? 0;
    one.setFence(leaderFence(e1));
    expect(createDepartment(one, 'before', T0).ok).toBe(true);
    expire(two);
    const e2 = acquireLeader(two, b) ?? 0;
    two.setFence(leaderFence(e2));
    expect(() => createDepartment(one, 'late', T0)).toThrow(FencedError);
    expect(() => renewLeader(one, a, e1)).toThrow(FencedError);
    expect(createDepartment(two, 'after', T0).ok).toBe(true);
    expect(
      listQueues(two)
        .map((q) => q.name)
        .sort(),
    ).toEqual(['after', 'before']);
  });

  it('claim takes the lease for good whoever held it (a lone allocator on its own file)', async () => {
    const [one] = await backend.pair();
    acquireLeader(one, a);
    const e = claimLeader(one, 'alone', 'http://me:1');
    expect(readLeader(one)).toMatchObject({ holder: 'alone', url: 'http://me:1', epoch: e });
    expect(acquireLeader(one, b)).toBeNull();
  });
});
