/**
 * allocator/store: the allocator's durable state in one SQLite file (docs/architecture.md §6).
 * db + migrations open and upgrade it; org, nodes, workloads, pods and events are the typed
 * repositories; snapshot builds the scheduler's input; apply-plan commits its output.
 */
export * from './apply-plan.ts';
export * from './db.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './migrations.ts';
export * from './nodes.ts';
export * from './org.ts';
export * from './pods.ts';
export * from './snapshot.ts';
export * from './tokens.ts';
export * from './workloads.ts';
