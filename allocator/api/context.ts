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
  /** The serving path, for served workloads' `url` and wanted replicas; absent: none. */
  serving?: ServingView;
}

/** What a workload view reads of the serving path (allocator/serve). */
export interface ServingView {
  /** The allocator's external base URL, without a trailing slash. */
  baseUrl(): string;
  /** The replicas an autoscaled workload wants now; undefined when not autoscaled. */
  wanted(workload: string): number | undefined;
}
