/**
 * allocator/link: the allocator's websocket endpoint for agents (docs/architecture.md §5). Who may
 * connect as which node is allocator/identity's; server asks it in the upgrade and on Hello, runs one session per node,
 * keeps leases and dispatches StartPod / StopPod; pod-id maps wire pod ids to the store's keys;
 * logs routes LogChunks to the request that asked for them.
 */
export * from './logs.ts';
export * from './pod-id.ts';
export * from './server.ts';
