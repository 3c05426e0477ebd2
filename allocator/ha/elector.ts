/**
 * The leader election of allocators sharing one PostgreSQL (store/leadership.ts): a standby tries
 * to take the lease every third of it; the leader renews it as often, and steps down when a renewal
 * is refused, when a write of its was fenced, or when it finds its own lease ran out by its own
 * monotonic clock before it could renew (a frozen process wakes up knowing it may no longer act).
 * On taking the lease it fences the store at its epoch before anything else runs, so every write of
 * this term is refused by the database once another allocator took over.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../common/log.ts';
import type { Db } from '../store/db.ts';
import {
  acquireLeader,
  claimLeader,
  type LeaderLease,
  type LeaseClaim,
  leaderFence,
  readLeader,
  releaseLeader,
  renewLeader,
} from '../store/leadership.ts';
import { INITIAL_ROLE, nextRole, type RoleEvent, type RoleState } from './role.ts';

/** A share of the lease kept in hand: the local deadline ends this much before the database's. */
const DRIFT_SHARE = 0.1;

/** Options of `createElector`. */
export interface ElectorOptions {
  db: Db;
  /** The URL this allocator advertises (agents and standbys are sent there); asked at each try. */
  url: () => string;
  /** How long a lease lasts without renewal; renewals and takeover tries come every third of it. */
  leaseMs: number;
  /**
   * `shared`: several allocators on one database (PostgreSQL): elect. `alone`: this allocator's own
   * SQLite file: it leads at once and for good, with no renewals and no fence (nothing else writes).
   */
  mode: 'shared' | 'alone';
  log: Logger;
  /** Took the lease at `epoch`, the store already fenced at it: start leading. */
  onLead(epoch: number): void;
  /** Lost the lease (`reason` says how): stop leading at once. */
  onStepDown(reason: string): void;
  /** A monotonic clock in ms; default `performance.now`. */
  monotonicMs?: () => number;
}

/** The running election. */
export interface Elector {
  /** Takes the lease if it can (at once, not at the next tick) and starts the timer. */
  start(): void;
  /** One try to take (standby) or renew (leader) the lease now; the timer calls it every third of the lease. */
  tick(): void;
  /** The role now; a leader past its local deadline steps down first (so callers never act late). */
  state(): RoleState;
  /** True while leading within the lease: the gate of every leader-only action. */
  leading(): boolean;
  /** The lease row as last read, or null before the first read. */
  lease(): LeaderLease | null;
  /** The leader's URL as last read (this allocator's own while it leads), or null while none leads. */
  leaderUrl(): string | null;
  /** Stop leading now (a write of this term was fenced, or the term could not start). */
  stepDown(reason: string): void;
  /** This run's holder id. */
  readonly holder: string;
  /** Stops the timer and, when leading, releases the lease so a standby takes over at once. */
  stop(): void;
}

/** Whether `e` is the store's refusal of a deposed leader's write. */
export function isFencedError(e: unknown): boolean {
  return e instanceof Error && e.name === 'FencedError';
}

/** Creates the election; nothing happens until `start()`. */
export function createElector(options: ElectorOptions): Elector {
  const { db, leaseMs, log, mode } = options;
  const monotonicMs = options.monotonicMs ?? (() => performance.now());
  const holder = randomUUID();
  const claim = (): LeaseClaim => ({ holder, url: options.url(), leaseMs });
  let state: RoleState = INITIAL_ROLE;
  let lastLease: LeaderLease | null = null;
  // While leading: the monotonic time after which this allocator must no longer act.
  let deadline = Number.POSITIVE_INFINITY;
  let timer: NodeJS.Timeout | null = null;

  const apply = (event: RoleEvent): void => {
    const before = state;
    state = nextRole(state, event);
    if (state === before) return;
    if (state.role === 'leader' && before.role !== 'leader') {
      log.info('leading', {
        epoch: state.epoch,
        url: options.url(),
        leaseMs: mode === 'alone' ? null : leaseMs,
      });
      options.onLead(state.epoch);
    } else if (before.role === 'leader' && state.role !== 'leader') {
      deadline = Number.POSITIVE_INFINITY;
      if (state.role === 'standby')
        log.warn('stepped down to standby', { epoch: before.epoch, reason: state.reason });
      options.onStepDown(state.reason);
    }
  };

  const lose = (reason: string): void => {
    apply({ kind: 'lost', reason });
    // Who leads now, for the agents and requests this standby sends on; a plain read, never fenced.
    try {
      lastLease = readLeader(db);
    } catch {
      // Unreachable: the next tick reads it again.
    }
  };

  const pastDeadline = (): boolean => state.role === 'leader' && monotonicMs() > deadline;

  const tryAcquire = (): void => {
    const sentAt = monotonicMs();
    const epoch = acquireLeader(db, claim());
    lastLease = readLeader(db);
    if (epoch === null) return;
    // Fenced before onLead: the first write of the term already carries the epoch.
    db.setFence(leaderFence(epoch));
    deadline = sentAt + leaseMs * (1 - DRIFT_SHARE);
    apply({ kind: 'acquired', epoch });
  };

  const renew = (): void => {
    const sentAt = monotonicMs();
    const epoch = state.epoch;
    if (renewLeader(db, claim(), epoch)) {
      deadline = sentAt + leaseMs * (1 - DRIFT_SHARE);
      apply({ kind: 'renewed' });
    } else {
      lastLease = readLeader(db);
      lose(`another allocator holds the lease (epoch ${lastLease.epoch} at ${lastLease.url})`);
    }
  };

  const tick = (): void => {
    try {
      if (state.role === 'leader') renew();
      else if (state.role === 'standby') tryAcquire();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (isFencedError(e)) {
        log.warn('write fenced: another allocator took the lease', { epoch: state.epoch, error: why });
        lose(`fenced: ${why}`);
      }
      // The database is unreachable: a leader keeps its role until its deadline, then steps down.
      else if (pastDeadline()) lose(`the lease ran out while the database did not answer: ${why}`);
      else log.warn('leader lease not reached', { role: state.role, error: why });
    }
  };

  return {
    holder,
    tick,
    start() {
      if (mode === 'alone') {
        const epoch = claimLeader(db, holder, options.url());
        lastLease = readLeader(db);
        apply({ kind: 'acquired', epoch });
        return;
      }
      tick();
      timer = setInterval(tick, Math.max(50, Math.floor(leaseMs / 3)));
      timer.unref();
    },
    state() {
      // Past its own deadline (a stalled process waking up) a leader acts only after renewing: the
      // renewal succeeds if nobody took the lease meanwhile, and is fenced if somebody did.
      if (pastDeadline()) {
        tick();
        if (pastDeadline()) lose('the lease ran out before it was renewed (this process was stalled)');
      }
      return state;
    },
    leading() {
      return this.state().role === 'leader';
    },
    lease: () => lastLease,
    leaderUrl() {
      if (this.state().role === 'leader') return options.url();
      return liveLeaderUrl(lastLease);
    },
    stepDown(reason) {
      const was = state;
      lose(reason);
      // Resigned (a term that could not start, a fenced write): free the lease for a standby at once
      // rather than hold it idle until it runs out. Refused when it is no longer ours, as it should be.
      if (mode === 'shared' && was.role === 'leader') {
        try {
          releaseLeader(db, holder, was.epoch);
        } catch {
          // Fenced or unreachable: someone else holds it, or it runs out by itself.
        }
      }
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      const was = state;
      apply({ kind: 'stop' });
      if (mode === 'shared' && was.role === 'leader') {
        try {
          releaseLeader(db, holder, was.epoch);
        } catch (e) {
          // Fenced or unreachable: the lease is someone else's or runs out by itself.
          log.warn('leader lease not released', { error: e instanceof Error ? e.message : String(e) });
        }
      }
    },
  };
}

/** The lease's leader URL when the lease is live, else null (nobody leads right now). */
export function liveLeaderUrl(lease: LeaderLease | null): string | null {
  if (lease === null || lease.holder === '' || lease.nowMs >= lease.expiresMs) return null;
  return lease.url;
}
