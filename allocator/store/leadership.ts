/**
 * The leader lease: one row (table `leader`) naming the allocator that leads, the URL
 * it advertises, its fencing epoch and when its lease runs out. Every time comparison uses the
 * database's own clock, so allocators whose clocks disagree still agree on who leads.
 *
 * The table is migration 13 (migration-13-leader.ts).
 *
 * A lease row rather than an advisory lock: a frozen leader (SIGSTOP, a long GC pause, a VM paused)
 * keeps its database session, and with it a session-level lock, for as long as it is frozen, so
 * nobody could take over; a lease simply runs out. The epoch makes a deposed leader harmless when it
 * wakes: each of its write transactions first runs `leaderFence(epoch)`, which matches no row once
 * another allocator took the lease, and the database refuses the whole transaction.
 */
import type { Db } from './db.ts';
import { inTransaction } from './db.ts';

/** A lease that never runs out: a lone allocator on SQLite holds it for its whole run. */
export const FOREVER_MS = Number.MAX_SAFE_INTEGER;

/** The database clock in epoch ms, as an SQL expression of each dialect. */
function nowMs(db: Db): string {
  return db.dialect === 'postgres'
    ? 'CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)'
    : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

/** The lease row as read, with the database's clock at the moment of reading. */
export interface LeaderLease {
  /** The holding allocator's id; '' when nobody ever held it. */
  holder: string;
  url: string;
  epoch: number;
  expiresMs: number;
  /** The database clock when this was read: the lease is live while `nowMs < expiresMs`. */
  nowMs: number;
}

interface LeaseRow {
  holder: string;
  url: string;
  epoch: number | string;
  expires_ms: number | string;
  now_ms: number | string;
}

/** Reads the lease row. */
export function readLeader(db: Db): LeaderLease {
  const row = db
    .prepare(`SELECT holder, url, epoch, expires_ms, ${nowMs(db)} AS now_ms FROM leader WHERE id = 1`)
    .get() as LeaseRow | undefined;
  if (row === undefined) throw new Error('the leader table has no row: the store missed migration 13');
  // PostgreSQL's driver hands BIGINT back as a string.
  return {
    holder: row.holder,
    url: row.url,
    epoch: Number(row.epoch),
    expiresMs: Number(row.expires_ms),
    nowMs: Number(row.now_ms),
  };
}

/** Who asks for the lease: this run's id, its advertised URL, and the lease length. */
export interface LeaseClaim {
  holder: string;
  url: string;
  leaseMs: number;
}

/**
 * Takes the lease when it has run out (or was released): one UPDATE, so of several allocators
 * trying at once exactly one matches the row. Returns the new epoch, or null when it is held.
 */
export function acquireLeader(db: Db, claim: LeaseClaim): number | null {
  return inTransaction(db, () => {
    const r = db
      .prepare(
        `UPDATE leader SET holder = ?, url = ?, epoch = epoch + 1, expires_ms = ${nowMs(db)} + ?
         WHERE id = 1 AND expires_ms <= ${nowMs(db)}`,
      )
      .run(claim.holder, claim.url, Math.trunc(claim.leaseMs));
    return r.changes === 1 ? readLeader(db).epoch : null;
  });
}

/**
 * Takes the lease whoever holds it, for good (`FOREVER_MS`): a lone allocator on its own SQLite
 * file, where no other allocator can be. Returns the new epoch.
 */
export function claimLeader(db: Db, holder: string, url: string): number {
  return inTransaction(db, () => {
    db.prepare('UPDATE leader SET holder = ?, url = ?, epoch = epoch + 1, expires_ms = ? WHERE id = 1').run(
      holder,
      url,
      FOREVER_MS,
    );
    return readLeader(db).epoch;
  });
}

/**
 * Extends the holder's lease by `leaseMs` from the database's now. False when the row names another
 * holder or epoch: someone took over, and this allocator must stop leading.
 */
export function renewLeader(db: Db, claim: LeaseClaim, epoch: number): boolean {
  const r = db
    .prepare(`UPDATE leader SET expires_ms = ${nowMs(db)} + ? WHERE id = 1 AND holder = ? AND epoch = ?`)
    .run(Math.trunc(claim.leaseMs), claim.holder, epoch);
  return r.changes === 1;
}

/** Ends the holder's lease now (a clean shutdown), so a standby takes over at its next try. */
export function releaseLeader(db: Db, holder: string, epoch: number): boolean {
  const r = db
    .prepare('UPDATE leader SET expires_ms = 0 WHERE id = 1 AND holder = ? AND epoch = ?')
    .run(holder, epoch);
  return r.changes === 1;
}

/**
 * The fence of a leader at `epoch` (db.setFence): an UPDATE that matches the row only while the
 * epoch is still this one. Run first in every write transaction; on PostgreSQL it also holds the
 * row's lock to the commit, so a takeover waits for a transaction in flight and never interleaves.
 */
export function leaderFence(epoch: number): { sql: string; params: unknown[] } {
  return { sql: 'UPDATE leader SET epoch = epoch WHERE id = 1 AND epoch = ?', params: [epoch] };
}
