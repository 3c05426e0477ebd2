/**
 * The agent's side of the fence guard (agent/fence-guard.mjs): `<data>/fence-deadline.json`, the
 * dead man's switch. While linked, the agent keeps in it a base deadline: the last time it heard from
 * the allocator plus half the disconnect margin. A pod whose disconnect policy is `reschedule` must
 * not run past `baseDeadlineMs + rescheduleAfterMs` (its spec in the runner's checkpoint) unless the
 * agent has heard from the allocator again. A frozen agent (SIGSTOP, a hung event loop, swapped out)
 * stops updating the file, and the guard, a separate process, kills such pods when their deadline
 * passes, before the allocator places them elsewhere: a pod never runs twice. `keep` pods are never
 * the guard's business.
 *
 * Each pod's deadline sits halfway between the agent's own stop (`rescheduleAfterMs`) and the
 * allocator's replacement (`+ marginMs`), so a live agent always fences first and the guard only acts
 * for one that cannot. On a clean stop the file is disarmed (`baseDeadlineMs: null`): the pods keep
 * running for the next agent to adopt, unguarded until it starts (accepted; agent/README.md). The
 * field is not the older `deadlineMs`, which an older guard would apply to every pod.
 *
 * Written with write + rename, not fsync: the guard only needs to never see half a file, and a power
 * loss takes the pods down too. Many agents share a machine in benchmarks, so writes are throttled to
 * one per half heartbeat, with a trailing write so the newest deadline always lands.
 */
import { join } from 'node:path';
import { writeJsonAtomicSync } from '../../common/atomic-file.mjs';
import type { Logger } from '../../common/log.ts';
import { withDefaults } from '../../common/options.ts';
import type { LinkClock, LinkGuard, SetTimer } from './types.ts';

/** The file's name under the agent's data dir (agent/fence-guard.mjs reads the same name). */
export const FENCE_DEADLINE_FILE = 'fence-deadline.json';

/** The longest grace the guard gives a pod between SIGTERM and SIGKILL. */
export const MAX_KILL_GRACE_MS = 2000;

/** What the file holds; `baseDeadlineMs: null` is disarmed. */
export interface FenceDeadline {
  /** A `reschedule` pod's deadline is this plus its `rescheduleAfterMs`. */
  baseDeadlineMs: number | null;
  agentPid: number;
  writtenMs: number;
  /** SIGTERM to SIGKILL for the guard: at most half the time left between its deadline and the replacement. */
  killGraceMs: number;
}

/** `<dataDir>/fence-deadline.json`. */
export function fenceDeadlinePath(dataDir: string): string {
  return join(dataDir, FENCE_DEADLINE_FILE);
}

/** The record for a link clock: armed at `lastHeardMs + marginMs / 2` (plus each pod's own time). */
export function armedDeadline(c: LinkClock, agentPid: number, nowMs: number): FenceDeadline {
  const half = Math.floor(c.marginMs / 2);
  return {
    baseDeadlineMs: c.lastHeardMs + half,
    agentPid,
    writtenMs: nowMs,
    killGraceMs: Math.min(MAX_KILL_GRACE_MS, Math.floor(half / 2)),
  };
}

/** What the writer does with a new deadline, given the last one written and when (pure). */
export type WriteDecision = 'now' | 'later' | 'skip';

/**
 * Writes at once when nothing was written yet, when the deadline moved earlier (the guard must never
 * wait longer than it was told) or when `minIntervalMs` passed
 * since the last write; otherwise later (a trailing write). An unchanged deadline is skipped.
 */
export function decideWrite(
  last: { deadlineMs: number; atMs: number } | null,
  deadlineMs: number,
  nowMs: number,
  minIntervalMs: number,
): WriteDecision {
  if (last === null || deadlineMs < last.deadlineMs) return 'now';
  if (deadlineMs === last.deadlineMs) return 'skip';
  return nowMs - last.atMs >= minIntervalMs ? 'now' : 'later';
}

/** Replaces `path` with `value` as JSON in one rename, so a reader sees the old file or the new one. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeJsonAtomicSync(path, value, { mode: 0o600 });
}

/** Options of `createGuardFile`. */
export interface GuardFileOptions {
  dataDir: string;
  log: Logger;
  /** Default `process.pid`. */
  agentPid?: number;
  /** Default `Date.now`. */
  now?: () => number;
  /** Default `setTimeout`, unref'd: a trailing write must not keep a stopping agent alive. */
  setTimer?: SetTimer;
  /** Default `writeJsonAtomic` to `fenceDeadlinePath(dataDir)`; injected by tests to count writes. */
  write?: (record: FenceDeadline) => void;
}

const unrefTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** `GuardFileOptions` complete: every default filled in. */
export type ResolvedGuardFileOptions = Required<GuardFileOptions>;

/** Fills in every default of `opts`: done once, where the guard file is created. */
export function resolveGuardFileOptions(opts: GuardFileOptions): ResolvedGuardFileOptions {
  const path = fenceDeadlinePath(opts.dataDir);
  return withDefaults(opts, {
    agentPid: process.pid,
    now: Date.now,
    setTimer: unrefTimer,
    write: (r: FenceDeadline) => writeJsonAtomic(path, r),
  });
}

/** The guard file as the link's `guard` (client.ts `LinkGuard`). */
export function createGuardFile(options: GuardFileOptions): LinkGuard {
  const opts = resolveGuardFileOptions(options);
  const { now, agentPid, setTimer, write } = opts;
  const path = fenceDeadlinePath(opts.dataDir);
  let last: { deadlineMs: number; atMs: number } | null = null;
  let pending: LinkClock | null = null;
  let cancelTrailing: (() => void) | null = null;
  let stopped = false;

  const put = (r: FenceDeadline): boolean => {
    try {
      write(r);
      return true;
    } catch (e) {
      // The guard then acts on the older (earlier) deadline: pods stop too soon, never too late.
      opts.log.error('fence deadline not written; the fence guard may stop pods early', {
        path,
        error: e instanceof Error ? e.message : String(e),
      });
      return false;
    }
  };

  const writeNow = (c: LinkClock): void => {
    const r = armedDeadline(c, agentPid, now());
    if (r.baseDeadlineMs !== null && put(r)) last = { deadlineMs: r.baseDeadlineMs, atMs: r.writtenMs };
  };

  return {
    heard(c) {
      if (stopped) return;
      const nowMs = now();
      const r = armedDeadline(c, agentPid, nowMs);
      const deadlineMs = r.baseDeadlineMs ?? 0;
      const minIntervalMs = Math.floor(c.heartbeatMs / 2);
      const d = decideWrite(last, deadlineMs, nowMs, minIntervalMs);
      if (d === 'skip') return;
      if (d === 'now') {
        cancelTrailing?.();
        cancelTrailing = null;
        pending = null;
        writeNow(c);
        return;
      }
      pending = c;
      if (cancelTrailing !== null || last === null) return;
      cancelTrailing = setTimer(
        () => {
          cancelTrailing = null;
          const p = pending;
          pending = null;
          if (p !== null && !stopped) writeNow(p);
        },
        Math.max(0, last.atMs + minIntervalMs - nowMs),
      );
    },
    stopped() {
      if (stopped) return;
      stopped = true;
      cancelTrailing?.();
      cancelTrailing = null;
      put({ baseDeadlineMs: null, agentPid, writtenMs: now(), killGraceMs: MAX_KILL_GRACE_MS });
    },
  };
}
