/**
 * allocator/link: the allocator's websocket endpoint for agents (docs/architecture.md §5). tokens holds
 * join tokens and node credentials; server authenticates in the upgrade, runs one session per node,
 * keeps leases and dispatches StartPod / StopPod; pod-id maps wire pod ids to the store's keys;
 * logs routes LogChunks to the request that asked for them.
 */
export * from './logs.ts';
export * from './pod-id.ts';
export * from './server.ts';
export * from './tokens.ts';
