/**
 * allocator/lifecycle: workload and pod phases after scheduling (ARCHITECTURE 2). derive is the pure
 * phase table over pods; reports applies agents' pod reports and lost nodes; teardown carries out user
 * stops and deletes; pods walks a pod through its phase table.
 */
export * from './derive.ts';
export * from './pods.ts';
export * from './reports.ts';
export * from './teardown.ts';
