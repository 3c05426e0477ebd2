/** Workload phase events: every transition stored as `{time, workload, from, to, reason, message}`. */
import type { WorkloadPhase } from '../../common/phases.ts';
import { type Db, NO_LIMIT } from './db.ts';

/** One stored phase change. */
export interface StoredEvent {
  id: number;
  timeMs: number;
  workload: string;
  from: WorkloadPhase | null;
  to: WorkloadPhase;
  reason: string;
  message: string;
}

interface EventRow {
  id: number;
  time_ms: number;
  workload: string;
  from_phase: string | null;
  to_phase: string;
  reason: string;
  message: string;
}

/** Appends an event; callers run it inside the transaction that changes the phase. */
export function insertEvent(db: Db, e: Omit<StoredEvent, 'id'>): number {
  const r = db
    .prepare(
      'INSERT INTO events (time_ms, workload, from_phase, to_phase, reason, message) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
    )
    .get(e.timeMs, e.workload, e.from, e.to, e.reason, e.message) as { id: number };
  return r.id;
}

/**
 * Events of one workload (or all when omitted), oldest first, optionally after an event id and at
 * most `limit` of them (all when omitted).
 */
export function listEvents(
  db: Db,
  filter: { workload?: string; afterId?: number; limit?: number } = {},
): StoredEvent[] {
  const rows = db
    .prepare(
      'SELECT * FROM events WHERE (CAST(@workload AS TEXT) IS NULL OR workload = @workload) AND id > @after ORDER BY id LIMIT @limit',
    )
    .all({
      workload: filter.workload ?? null,
      after: filter.afterId ?? 0,
      limit: filter.limit ?? NO_LIMIT,
    }) as EventRow[];
  return rows.map((r) => ({
    id: r.id,
    timeMs: r.time_ms,
    workload: r.workload,
    // Only values written through transition() are stored, so the casts re-read our own writes.
    from: r.from_phase as WorkloadPhase | null,
    to: r.to_phase as WorkloadPhase,
    reason: r.reason,
    message: r.message,
  }));
}
