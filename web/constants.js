// @ts-check
/**
 * Copies of lists in common/phases.ts, common/workload.ts, common/workload-container.ts,
 * allocator/store/pods.ts and allocator/api/org-routes.ts: the browser cannot load the TypeScript sources without a build step. test/web/constants.test.ts compares them
 * with the originals (and STOPPABLE with the phase machine) so they cannot drift.
 */

/** Every workload phase, in lifecycle order. */
export const WORKLOAD_PHASES = [
  'Creating',
  'Pending',
  'Initializing',
  'Running',
  'Degraded',
  'Stopped',
  'Deleting',
  'Failed',
  'Completed',
];

/** Every workload type. */
export const WORKLOAD_TYPES = ['workspace', 'training', 'distributed', 'inference'];

/** When a runtime pulls a pod's image (common/workload-container.ts), the default first. */
export const PULL_POLICIES = ['IfNotPresent', 'Always', 'Never'];

/** Every priority class, lowest priority first. */
export const PRIORITY_CLASSES = ['train', 'build-preemptible', 'build', 'inference'];

/** Phases a user may stop from (common/phases.ts: every unfinished phase has `Stopped`). */
export const STOPPABLE = ['Creating', 'Pending', 'Initializing', 'Running', 'Degraded'];

/** Pod phases of a pod placed on a node (common/phases.ts SCHEDULED_POD_PHASES). */
export const SCHEDULED_POD_PHASES = ['Bound', 'Starting', 'Running', 'Unknown'];

/** How often a shown page asks its sources again. */
export const POLL_MS = 2000;

/** The placement strategies a node pool may name (allocator/api/org-routes.ts), the default first. */
export const PLACEMENTS = ['binpack', 'spread', 'fragmentation-aware'];
