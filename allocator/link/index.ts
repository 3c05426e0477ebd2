/**
 * allocator/link: the allocator's websocket endpoint for agents (ARCHITECTURE 5). tokens holds
 * join tokens and node credentials; server authenticates in the upgrade, runs one session per node,
 * keeps leases and dispatches StartPod / StopPod; pod-id maps wire pod ids to the store's keys.
 */
export * from './pod-id.ts';
export * from './server.ts';
export * from './tokens.ts';
