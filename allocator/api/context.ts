/** What every route module is handed: the store, the clock and the change signal. */
import type { Db } from '../store/db.ts';

/** Why a write may change the next scheduling decision; the allocator coalesces these. */
export type ChangeReason =
  | 'workload-submitted'
  | 'workload-stopped'
  | 'workload-run'
  | 'workload-deleted'
  | 'quota-changed'
  | 'pool-changed'
  | 'node-changed';

/** The routes' shared state. */
export interface ApiContext {
  db: Db;
  /** The clock, in ms since the epoch; tests pass a fixed one. */
  now: () => number;
  /** Called after a committed write that should trigger a scheduling cycle. */
  changed: (reason: ChangeReason) => void;
}
