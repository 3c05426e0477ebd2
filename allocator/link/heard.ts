/**
 * When each node was last heard from: kept in memory per frame, written to the store (`last_seen_ms`)
 * only as often as the readers of that column need. Those readers, the lease check
 * (`markLostNodes`, silent past leaseMs) and the disconnect policies (`silentNodes`, silent past
 * MIN_RESCHEDULE_MS + DISCONNECT_MARGIN_MS), run right after `flush` in the same turn and only ask
 * about nodes silent for at least `minSilentMs`. So a node's stored time needs refreshing only once
 * it is `writeEveryMs` (half that) old: every node that could look silent to them is written first,
 * with its exact time, and the rest cost nothing. Writing every node on every lease check took a
 * quarter of a core and a 270 ms stall per second at 10,000 agents.
 */
import { DISCONNECT_MARGIN_MS, MIN_RESCHEDULE_MS } from '../../common/disconnect.ts';
import type { Db } from '../store/db.ts';
import { touchNodes } from '../store/nodes.ts';

/** The heard-from times of the link's nodes. */
export interface HeardTimes {
  /** `node` sent a frame at `atMs`. */
  heard(node: string, atMs: number): void;
  /** The store got `atMs` for `node` some other way (its Hello's upsert). */
  stored(node: string, atMs: number): void;
  /** Writes the times the readers may need at `nowMs` (every pending one with `all`), in one transaction. */
  flush(nowMs: number, all?: boolean): void;
  /** The node left the store's care (lost, deleted): nothing of it is pending any more. */
  forget(node: string): void;
}

/** How old a stored time may grow before a newer one is written, for a link with `leaseMs`. */
export function writeEveryMs(leaseMs: number): number {
  return Math.floor(Math.min(leaseMs, MIN_RESCHEDULE_MS + DISCONNECT_MARGIN_MS) / 2);
}

/** Heard-from times over `db`'s nodes table. */
export function createHeardTimes(db: Db, leaseMs: number): HeardTimes {
  const every = writeEveryMs(leaseMs);
  // Heard since last written, and what the store holds (as far as this link wrote it).
  const pending = new Map<string, number>();
  const written = new Map<string, number>();
  return {
    heard(node, atMs) {
      pending.set(node, atMs);
    },
    stored(node, atMs) {
      written.set(node, atMs);
      pending.delete(node);
    },
    flush(nowMs, all = false) {
      const due = new Map<string, number>();
      for (const [node, atMs] of pending) {
        const w = written.get(node);
        if (all || w === undefined || w <= nowMs - every) due.set(node, atMs);
      }
      if (due.size === 0) return;
      touchNodes(db, due);
      for (const [node, atMs] of due) {
        pending.delete(node);
        written.set(node, atMs);
      }
    },
    forget(node) {
      pending.delete(node);
      written.delete(node);
    },
  };
}
