/**
 * allocator/lifecycle: workload and pod phases after scheduling (docs/architecture.md §2). derive is the pure
 * phase table over pods; reports applies agents' pod reports and lost nodes; teardown carries out user
 * stops and deletes; restart decides what a failed pod does under its restartPolicy and backoffLimit;
 * settle moves a workload to the phase its pods call for; drain cordons a node and evicts its pods by the eviction rules; rules and enforce-rules stop work past its scheduling rules; pods walks a pod through its phase table.
 */
export * from './derive.ts';
export * from './drain.ts';
export * from './enforce-rules.ts';
export * from './pod-events.ts';
export * from './pods.ts';
export * from './reports.ts';
export * from './restart.ts';
export * from './rules.ts';
export * from './settle.ts';
export * from './teardown.ts';
