/**
 * allocator/identity: who a bearer is and what it may do, for the API and the agent link alike.
 * tokens mints, checks and revokes tokens (join, node, user; a minted token lives no longer than its
 * parent); nodes says which node name a join token or node credential may be and issues credentials;
 * rbac says what a role on a scope allows; callers turns a user token into the API's caller with its
 * grants. The link and the API keep only their transport: close frames, HTTP statuses, routes.
 */
export * from './callers.ts';
export * from './nodes.ts';
export * from './rbac.ts';
export * from './tokens.ts';
