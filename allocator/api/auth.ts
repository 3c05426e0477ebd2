/**
 * Who is calling and may they (docs/architecture.md §7). Every `/api/v1` request carries
 * `Authorization: Bearer <user token>`: `onRequest` refuses a missing, unknown, expired or revoked
 * token (401) and any agent credential or join token, which open only the agent link; `preHandler`
 * (after the body is parsed, since `POST /workloads` names its project there) checks the route's
 * row of permissions.ts (403); `preSerialization` drops the rows of a list the caller may not read.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Caller, grantsOf, userOfBearer } from '../identity/callers.ts';
import { CLUSTER, can, neededGrant, scopeName } from '../identity/rbac.ts';
import { bearerOf, type TokenStore } from '../identity/tokens.ts';
import { projectDepartments } from '../store/access.ts';
import type { Db } from '../store/db.ts';
import { failRequest } from './errors.ts';
import { type Lookup, PERMISSIONS, type RoutePermission } from './permissions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; null on an open API (built without tokens). */
    caller: Caller | null;
  }
}

/** The `/api/v1` prefix; routes are keyed without it. */
const PREFIX = '/api/v1';

/** The user `request`'s bearer token names at `nowMs` and that token's id, or a 401. */
function tokenUserOf(
  request: FastifyRequest,
  tokens: TokenStore,
  nowMs: number,
): { user: string; tokenId: string } {
  const bearer = bearerOf(request.headers.authorization);
  if (bearer === null)
    failRequest(
      'TESSERA_E_UNAUTHENTICATED',
      'no API token: send Authorization: Bearer <token> (tessera up prints one and writes it to DATA/admin-token; tessera login stores one)',
    );
  const who = userOfBearer(tokens, bearer, nowMs);
  if (who === null)
    failRequest(
      'TESSERA_E_UNAUTHENTICATED',
      'this token is not a valid API token (unknown, expired or revoked, or an agent credential); ask an admin for one: tessera token create --user NAME',
    );
  return who;
}

/**
 * `--metrics-auth`: what `/metrics` checks first. The exposition shows every node, project and
 * pending reason, so the caller's user must read nodes on the cluster (any role on `cluster`, e.g.
 * a `prometheus` user with `viewer` there); 401 without a valid token, 403 without that role.
 */
export function metricsReader(
  tokens: TokenStore,
  db: Db,
  now: () => number,
): (request: FastifyRequest) => void {
  return (request) => {
    const { user } = tokenUserOf(request, tokens, now());
    if (!can(grantsOf(db, user), 'read-nodes', CLUSTER))
      failRequest(
        'TESSERA_E_FORBIDDEN',
        `${user} may not read /metrics: it needs a role on cluster; an admin can run: tessera access grant ${user} viewer cluster`,
      );
  };
}

/** Refuses any request in `app`'s scope without a valid user token (401) and records the caller. */
export function requireUserToken(
  app: FastifyInstance,
  tokens: TokenStore,
  db?: Db,
  now: () => number = Date.now,
): void {
  app.addHook('onRequest', async (request) => {
    const { user, tokenId } = tokenUserOf(request, tokens, now());
    request.caller = { user, tokenId, grants: db === undefined ? [] : grantsOf(db, user) };
  });
}

function lookup(db: Db, tokens: TokenStore): Lookup {
  let departments: Map<string, string> | undefined;
  return {
    db,
    tokens,
    project: (name) => {
      departments ??= projectDepartments(db);
      return { kind: 'project', project: name, department: departments.get(name) ?? null };
    },
  };
}

function routeKey(request: FastifyRequest): string {
  const url = request.routeOptions.url ?? '';
  // fastify answers HEAD on every GET route; it reads what GET reads.
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  return `${method} ${url.startsWith(PREFIX) ? url.slice(PREFIX.length) : url}`;
}

function forbid(caller: Caller, what: string, role: string, scope: string): never {
  const held = caller.grants.length === 0 ? 'no access rules' : `${caller.grants.length} access rule(s)`;
  failRequest(
    'TESSERA_E_FORBIDDEN',
    `${caller.user} (${held}) may not ${what}: it needs role ${role} on ${scope}; an admin can run: tessera access grant ${caller.user} ${role} ${scope}`,
  );
}

function check(
  request: FastifyRequest,
  entry: RoutePermission | undefined,
  look: Lookup,
  caller: Caller,
): void {
  const key = routeKey(request);
  const admin = can(caller.grants, 'manage-cluster', CLUSTER);
  if (entry === undefined) {
    // Default deny: a route nobody classified is an admin's until it is added to permissions.ts.
    if (!admin) forbid(caller, `call ${key} (not in the permission table)`, 'admin', 'cluster');
    return;
  }
  const target = entry.scope(request, look, caller);
  if (target === 'self') return;
  if (target === 'filtered') {
    if (entry.visible === undefined && entry.shape === undefined && caller.grants.length === 0)
      forbid(caller, `call ${key}`, 'viewer', 'a project');
    return;
  }
  const action = typeof entry.action === 'function' ? entry.action(target) : entry.action;
  if (can(caller.grants, action, target)) return;
  const need = neededGrant(action, target);
  forbid(caller, `${action} on ${scopeName(target)} (${key})`, need.role, need.scope);
}

/** Enforces permissions.ts on every route in `app`'s scope; `requireUserToken` must run first. */
export function enforcePermissions(app: FastifyInstance, db: Db, tokens: TokenStore): void {
  app.addHook('preHandler', async (request) => {
    const caller = request.caller;
    if (caller === null)
      failRequest('TESSERA_E_UNAUTHENTICATED', 'no caller; send Authorization: Bearer <token>');
    check(request, PERMISSIONS[routeKey(request)], lookup(db, tokens), caller);
  });
  app.addHook('preSerialization', async (request, reply, payload: unknown) => {
    const entry = PERMISSIONS[routeKey(request)];
    const caller = request.caller;
    if (entry === undefined || caller === null || reply.statusCode >= 400) return payload;
    const { visible, shape } = entry;
    if (shape !== undefined) return shape(payload, lookup(db, tokens), caller);
    if (visible === undefined || !Array.isArray(payload)) return payload;
    const look = lookup(db, tokens);
    return payload.filter((row: unknown) => visible(row, look, caller));
  });
}
