/**
 * The agent's link to the allocator (docs/architecture.md §5): `client.ts` the websocket client (Hello,
 * heartbeats, reconnects, self-fencing), `apply.ts` the allocator's orders under the epoch rule, `map.ts` the pure wire <-> agent type mapping,
 * `backoff.ts` the reconnect delays, `credential-file.ts` the node's own credential kept between runs, `credential.ts` which one the link presents, `self-fence.ts` the per-pod stops
 * when cut off, `guard-file.ts` the fence guard's deadline file (agent/README.md "Fence guard"), `logs.ts` the
 * pod log requests of `tessera logs` (tail, then follow), `types.ts` the seams those parts share.
 */
export { backoffDelayMs, RECONNECT_BACKOFF, type ReconnectBackoff } from './backoff.ts';
export {
  createLink,
  type Link,
  type LinkOptions,
} from './client.ts';
export { CREDENTIAL_FILE, type CredentialKeeper, credentialFile } from './credential-file.ts';
export { createGuardFile, type FenceDeadline, fenceDeadlinePath } from './guard-file.ts';
export { createLogServer, type LogServer, type LogServerOptions } from './logs.ts';
export type { LinkAgent, LinkClock, LinkGuard, SetTimer } from './types.ts';
