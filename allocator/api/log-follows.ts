/**
 * The log follows the API has open (`GET /workloads/:id/logs?follow=true`): how many each user may
 * hold, and what their responses hold in memory for readers that have not taken it yet. One per
 * allocator; log-stream.ts reports into it and the allocator's stats and /metrics read it.
 */

/** The limits of log follows, each with why it is that number. */
export const LOG_FOLLOW_LIMITS = {
  /** Follows one user may have open at once: a person reads a few; each holds up to maxHeldBytes. */
  maxFollowsPerUser: 4,
  /**
   * Bytes one follow's response may hold for its reader. Past it the agent is paused and what is
   * still on its way is skipped: memory per user stays under maxFollowsPerUser times this.
   */
  maxHeldBytes: 8 * 1024 * 1024,
  /** A paused follow resumes once its reader has taken all but this much. */
  resumeBelowBytes: 1024 * 1024,
  /** How often a paused follow looks whether its reader caught up. */
  resumeCheckMs: 100,
} as const;

/** What the open follows hold, for stats and /metrics. */
export interface LogFollowStats {
  /** Follows open now. */
  open: number;
  /** Bytes their responses hold now, all together. */
  heldBytes: number;
  /** The most any one follow's response has held. */
  peakHeldBytes: number;
  /** Times a follow was paused because its reader fell maxHeldBytes behind. */
  pauses: number;
  /** Output skipped while follows were paused. */
  skippedBytes: number;
}

/** One open follow's handle. */
export interface FollowSlot {
  /** What its response holds now. */
  held(bytes: number): void;
  /** It paused; `skipped` bytes were left out. */
  paused(): void;
  skipped(bytes: number): void;
  /** It ended (idempotent): the slot is free again. */
  close(): void;
}

/** The registry of open follows. */
export interface LogFollows {
  /** A slot for a new follow of `user`, or the number already open when the user has no slot left. */
  open(user: string): { slot: FollowSlot } | { refused: number };
  stats(): LogFollowStats;
}

/** An empty registry. */
export function createLogFollows(): LogFollows {
  const byUser = new Map<string, number>();
  const held = new Map<symbol, number>();
  const totals = { peakHeldBytes: 0, pauses: 0, skippedBytes: 0 };
  return {
    open(user) {
      const n = byUser.get(user) ?? 0;
      if (n >= LOG_FOLLOW_LIMITS.maxFollowsPerUser) return { refused: n };
      byUser.set(user, n + 1);
      const key = Symbol(user);
      held.set(key, 0);
      let closed = false;
      const slot: FollowSlot = {
        held(bytes) {
          if (closed) return;
          held.set(key, bytes);
          totals.peakHeldBytes = Math.max(totals.peakHeldBytes, bytes);
        },
        paused() {
          totals.pauses += 1;
        },
        skipped(bytes) {
          totals.skippedBytes += bytes;
        },
        close() {
          if (closed) return;
          closed = true;
          held.delete(key);
          const left = (byUser.get(user) ?? 1) - 1;
          if (left === 0) byUser.delete(user);
          else byUser.set(user, left);
        },
      };
      return { slot };
    },
    stats: () => ({
      open: held.size,
      heldBytes: [...held.values()].reduce((a, b) => a + b, 0),
      ...totals,
    }),
  };
}
