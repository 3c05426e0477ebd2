/**
 * What the store's `Db` promises on both backends beyond the repositories: nested transactions,
 * Buffers, fencing (a write whose fence changes no row is refused and writes nothing).
 */
import { describe, expect, it } from 'vitest';
import { createUser, listUsers } from '../../../allocator/store/access.ts';
import { type Db, inTransaction, openStore } from '../../../allocator/store/db.ts';
import { FencedError } from '../../../allocator/store/errors.ts';
import { createDepartment, listQueues } from '../../../allocator/store/org.ts';
import { sqliteTokenStore } from '../../../allocator/store/tokens.ts';
import { describeBackends, must, openTemp, T0 } from './helpers.ts';

/** A lease table with one row at epoch 1, and a fence that holds while the row is still at `epoch`. */
function leased(db: Db, epoch = 1): { sql: string; params: number[] } {
  db.exec('CREATE TABLE lease (epoch INTEGER NOT NULL)');
  db.prepare('INSERT INTO lease (epoch) VALUES (?)').run(1);
  return { sql: 'UPDATE lease SET epoch = epoch WHERE epoch = ?', params: [epoch] };
}

describeBackends('the Db', () => {
  it('nests transactions as savepoints: an inner failure undoes the inner writes only', () => {
    const db = openTemp();
    inTransaction(db, () => {
      must(createUser(db, 'outer', T0));
      expect(() =>
        inTransaction(db, () => {
          must(createUser(db, 'inner', T0));
          throw new Error('inner fails');
        }),
      ).toThrow('inner fails');
      must(createUser(db, 'after', T0));
    });
    expect(listUsers(db).map((u) => u.name)).toEqual(['after', 'outer']);
  });

  it('rolls a whole transaction back when it throws', () => {
    const db = openTemp();
    expect(() =>
      inTransaction(db, () => {
        must(createUser(db, 'gone', T0));
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(listUsers(db)).toEqual([]);
  });

  it('keeps Buffers as Buffers and counts written rows', () => {
    const db = openTemp();
    const tokens = sqliteTokenStore(db, () => T0);
    const hash = Buffer.from([0, 1, 2, 250, 255]);
    tokens.put({ id: 't1', kind: 'join', subject: null, hash });
    const got = tokens.get('t1');
    expect(Buffer.isBuffer(got?.hash)).toBe(true);
    expect(got?.hash.equals(hash)).toBe(true);
    expect(db.prepare('UPDATE tokens SET name = ? WHERE kind = ?').run('x', 'join').changes).toBe(1);
  });

  it('fencing: writes go through while the fence holds, and are refused, writing nothing, once it fails', () => {
    const db = openTemp();
    const fence = leased(db);
    db.setFence(fence);
    must(createDepartment(db, 'held', T0));
    db.prepare('INSERT INTO users (name, created_ms) VALUES (?, ?)').run('u1', T0);
    // Another allocator takes the lease (epoch 2): this one's fence now changes no row.
    db.setFence(null);
    db.prepare('UPDATE lease SET epoch = 2').run();
    db.setFence(fence);
    expect(() => createDepartment(db, 'late', T0)).toThrow(FencedError);
    expect(() => db.prepare('INSERT INTO users (name, created_ms) VALUES (?, ?)').run('u2', T0)).toThrow(
      /fence: UPDATE lease SET epoch = epoch WHERE epoch = \? with \(1\) changed no row/,
    );
    // Reads outside a transaction are not fenced.
    expect(listQueues(db).map((q) => q.name)).toEqual(['held']);
    db.setFence(null);
    expect(listUsers(db).map((u) => u.name)).toEqual(['u1']);
    must(createDepartment(db, 'unfenced', T0));
  });
});

describe('fencing across connections (postgres)', () => {
  it('a second allocator moving the lease refuses the first one’s next transaction', async () => {
    const { POSTGRES_MISSING, startPostgres } = await import('../../helpers/postgres.ts');
    if (POSTGRES_MISSING !== null) return;
    const pg = await startPostgres();
    const dir = '/nonexistent-unused';
    const a = openStore({ dataDir: dir, url: pg.url });
    const b = openStore({ dataDir: dir, url: pg.url });
    try {
      a.setFence(leased(a));
      must(createDepartment(a, 'by-a', T0));
      b.prepare('UPDATE lease SET epoch = 2').run();
      expect(() => createDepartment(a, 'late', T0)).toThrow(FencedError);
      expect(listQueues(b).map((q) => q.name)).toEqual(['by-a']);
    } finally {
      a.close();
      b.close();
      await pg.stop();
    }
  });
});
