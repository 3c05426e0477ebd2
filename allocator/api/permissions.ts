/**
 * The one table of who may call which route: each `METHOD /pattern` (fastify's pattern,
 * under /api/v1) names the action it performs and how to find its target scope in the request.
 * auth.ts enforces it; a route missing here is refused to all but admins on cluster (default deny),
 * so a new route is closed until someone decides who may call it.
 */
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../identity/callers.ts';
import { CLUSTER, can, parseScopeName, type Scope, type Verb } from '../identity/rbac.ts';
import type { TokenStore } from '../identity/tokens.ts';
import type { TopView } from '../service/top.ts';
import { getAccessRule } from '../store/access.ts';
import type { Db } from '../store/db.ts';
import { departmentExists } from '../store/org.ts';
import { getWorkload, workloadProjects } from '../store/workloads.ts';
import { failRequest } from './errors.ts';

/** What a request touches, looked up once per request. */
export interface Lookup {
  db: Db;
  tokens: TokenStore;
  /** A project's scope with its department (null when there is no such project). */
  project(name: string): Scope & { kind: 'project' };
}

/**
 * A target scope; `'self'`: the caller's own things (any user may); `'filtered'`: a list the caller
 * sees only the readable rows of (`visible` decides per row).
 */
export type Target = Scope | 'self' | 'filtered';

/** One table row. */
export interface RoutePermission {
  /** The action, fixed or chosen by the target (writing a policy is managing its scope). */
  action: Verb | ((target: Scope) => Verb);
  scope: (request: FastifyRequest, look: Lookup, caller: Caller) => Target;
  /**
   * For `'filtered'` lists: whether the caller sees one row of the answer. Without it (and without
   * `shape`), any user holding a rule passes.
   */
  visible?: (row: unknown, look: Lookup, caller: Caller) => boolean;
  /** For a `'filtered'` answer that is not a list: the part of it the caller may see. */
  shape?: (payload: unknown, look: Lookup, caller: Caller) => unknown;
}

/** A string field of an untrusted object (body, params, a row), or undefined. */
export function field(o: unknown, key: string): string | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

const param = (request: FastifyRequest, key: string): string => field(request.params, key) ?? '';

function department(look: Lookup, name: string): Scope {
  if (!departmentExists(look.db, name)) failRequest('TESSERA_E_NOT_FOUND', `no department named ${name}`);
  return { kind: 'department', department: name };
}

function existingProject(look: Lookup, name: string): Scope {
  const p = look.project(name);
  if (p.department === null) failRequest('TESSERA_E_NOT_FOUND', `no project named ${name}`);
  return p;
}

function workload(look: Lookup, id: string): Scope {
  const w = getWorkload(look.db, id) ?? failRequest('TESSERA_E_NOT_FOUND', `no workload with id ${id}`);
  return look.project(w.project);
}

/** A policy's or rule's `:scope` param: `cluster`, `department:<d>` or `project:<p>`. */
export function policyScope(look: Lookup, written: string): Scope {
  if (written === 'cluster') return CLUSTER;
  const m = /^(department|project):(.+)$/.exec(written);
  if (m === null || m[2] === undefined)
    failRequest(
      'TESSERA_E_INVALID_SPEC',
      `scope '${written}': write cluster, department:<name> or project:<name>`,
      'scope',
    );
  return m[1] === 'department' ? department(look, m[2]) : existingProject(look, m[2]);
}

/** Where granting `role` on `scope` is decided: that scope, except `admin` and anything unreadable (the cluster). */
function grantScope(look: Lookup, role: string | undefined, scope: string | undefined): Scope {
  const s = parseScopeName(scope ?? '');
  if (role === 'admin' || s === null || s.kind === 'cluster') return CLUSTER;
  return s.kind === 'department' ? department(look, s.name) : existingProject(look, s.name);
}

/** Writing at a scope is managing it: the cluster, a department, or a project. */
function manageAt(target: Scope): Verb {
  return target.kind === 'cluster'
    ? 'manage-cluster'
    : target.kind === 'department'
      ? 'manage-department'
      : 'manage-project';
}

const isAdmin = (caller: Caller) => can(caller.grants, 'manage-cluster', CLUSTER);
const cluster = (): Target => CLUSTER;
const filtered = (): Target => 'filtered';
const byWorkload = (r: FastifyRequest, look: Lookup) => workload(look, param(r, 'id'));
// Events outlive their workload (store/events.ts); once it is gone its project is unknown, so only
// readers of the whole cluster see them.
const byWorkloadOrGone = (r: FastifyRequest, look: Lookup): Target => {
  const w = getWorkload(look.db, param(r, 'id'));
  return w === undefined ? CLUSTER : look.project(w.project);
};
const byProject = (r: FastifyRequest, look: Lookup) => existingProject(look, param(r, 'name'));
const bySecretProject = (r: FastifyRequest, look: Lookup) => existingProject(look, param(r, 'project'));
const byPolicy = (r: FastifyRequest, look: Lookup) => policyScope(look, param(r, 'scope'));
const readsProject = (row: unknown, look: Lookup, c: Caller) =>
  can(c.grants, 'read', look.project(field(row, 'project') ?? ''));
// A share row is a department's or a project's: readable as that queue is.
const readsQueue = (row: unknown, look: Lookup, c: Caller) => {
  const queue = field(row, 'queue') ?? '';
  const scope: Scope =
    field(row, 'kind') === 'department' ? { kind: 'department', department: queue } : look.project(queue);
  return can(c.grants, 'read', scope);
};
const ownOrAdmin = (row: unknown, _look: Lookup, c: Caller) => field(row, 'subject') === c.user || isAdmin(c);
const ownTokenOrAdmin = (row: unknown, look: Lookup, c: Caller) =>
  (field(row, 'kind') === 'user' && ownOrAdmin(row, look, c)) || isAdmin(c);

/**
 * `top` as the caller may see it: the workloads of projects it reads; nodes only with `read-nodes`,
 * each GPU's totals kept but its pods only those of readable workloads.
 */
function topShape(payload: unknown, look: Lookup, c: Caller): unknown {
  if (typeof payload !== 'object' || payload === null || !('nodes' in payload)) return payload;
  const top = payload as TopView;
  const projects = workloadProjects(look.db);
  const reads = (workload: string) => can(c.grants, 'read', look.project(projects.get(workload) ?? ''));
  const nodes = can(c.grants, 'read-nodes', CLUSTER)
    ? top.nodes.map((n) => ({
        ...n,
        gpus: n.gpus.map((g) => ({ ...g, pods: g.pods.filter((p) => reads(p.workload)) })),
      }))
    : [];
  return { ...top, nodes, workloads: top.workloads.filter((w) => reads(w.id)) };
}

function policyRoutes(base: '/policies' | '/rules'): Record<string, RoutePermission> {
  const readable = (row: unknown, look: Lookup, c: Caller) => {
    const s = field(row, 'scope');
    if (s === undefined) return isAdmin(c);
    try {
      return can(c.grants, 'read-policy', policyScope(look, s));
    } catch {
      return isAdmin(c);
    }
  };
  return {
    [`GET ${base}`]: { action: 'read-policy', scope: filtered, visible: readable },
    [`GET ${base}/effective`]: {
      action: 'read-policy',
      scope: (r, look) => look.project(field(r.query, 'project') ?? ''),
    },
    [`GET ${base}/:scope/:type`]: { action: 'read-policy', scope: byPolicy },
    [`PUT ${base}/:scope/:type`]: { action: manageAt, scope: byPolicy },
    [`DELETE ${base}/:scope/:type`]: { action: manageAt, scope: byPolicy },
  };
}

/** Every `/api/v1` route and what it needs. */
export const PERMISSIONS: Readonly<Record<string, RoutePermission>> = {
  'GET /whoami': { action: 'read', scope: () => 'self' },

  'GET /departments': {
    action: 'read',
    scope: filtered,
    visible: (row, _look, c) =>
      can(c.grants, 'read', { kind: 'department', department: field(row, 'name') ?? '' }),
  },
  'POST /departments': { action: 'manage-cluster', scope: cluster },
  'GET /departments/:name': { action: 'read', scope: (r, look) => department(look, param(r, 'name')) },
  // A department's own quota is the cluster's to split: never its department-admin's.
  'PATCH /departments/:name': { action: 'manage-cluster', scope: cluster },
  'DELETE /departments/:name': { action: 'manage-cluster', scope: cluster },

  'GET /projects': {
    action: 'read',
    scope: filtered,
    visible: (row, look, c) => can(c.grants, 'read', look.project(field(row, 'name') ?? '')),
  },
  'POST /projects': {
    action: 'manage-project',
    scope: (r) => ({
      kind: 'project',
      project: field(r.body, 'name') ?? '',
      department: field(r.body, 'department') ?? null,
    }),
  },
  'GET /projects/:name': { action: 'read', scope: byProject },
  'PATCH /projects/:name': { action: 'manage-project', scope: byProject },
  'DELETE /projects/:name': { action: 'manage-project', scope: byProject },

  // Registry secrets are the project's to manage, as its quota and policies are: whoever may submit
  // there uses them by name, only a department-admin or admin writes them, and no route reads a
  // password back (secret-routes.ts). Readers of the project see names, servers and users.
  'GET /projects/:project/secrets': { action: 'read', scope: bySecretProject },
  'POST /projects/:project/secrets/registry': { action: 'manage-project', scope: bySecretProject },
  'PUT /projects/:project/secrets/registry/:name': { action: 'manage-project', scope: bySecretProject },
  'DELETE /projects/:project/secrets/registry/:name': { action: 'manage-project', scope: bySecretProject },

  'GET /nodepools': { action: 'read-nodes', scope: cluster },
  'GET /nodepools/:name': { action: 'read-nodes', scope: cluster },
  'POST /nodepools': { action: 'manage-cluster', scope: cluster },
  'PATCH /nodepools/:name': { action: 'manage-cluster', scope: cluster },
  'DELETE /nodepools/:name': { action: 'manage-cluster', scope: cluster },
  'GET /nodes': { action: 'read-nodes', scope: cluster },
  'GET /nodes/:name': { action: 'read-nodes', scope: cluster },
  'PATCH /nodes/:name': { action: 'manage-cluster', scope: cluster },
  'DELETE /nodes/:name': { action: 'manage-cluster', scope: cluster },
  // A node's pods name workloads: a reader of the nodes sees those of the projects it reads.
  'GET /nodes/:name/pods': { action: 'read-nodes', scope: cluster, visible: readsProject },
  // Evicts other people's work, as a cordon or delete changes where it runs: the cluster admin's.
  'POST /nodes/:name/drain': { action: 'manage-cluster', scope: cluster },
  // Opens the node's name to a join token: whoever joins next becomes that node.
  'POST /nodes/:name/reset': { action: 'manage-cluster', scope: cluster },

  'POST /workloads': {
    action: 'write-workload',
    scope: (r, look) => look.project(field(r.body, 'project') ?? ''),
  },
  'GET /workloads': { action: 'read', scope: filtered, visible: readsProject },
  'GET /workloads/:id': { action: 'read', scope: byWorkload },
  'POST /workloads/:id/stop': { action: 'write-workload', scope: byWorkload },
  'POST /workloads/:id/run': { action: 'write-workload', scope: byWorkload },
  'DELETE /workloads/:id': { action: 'write-workload', scope: byWorkload },
  'GET /workloads/:id/events': { action: 'read', scope: byWorkloadOrGone },
  'GET /workloads/:id/explain': { action: 'read', scope: byWorkload },
  'GET /workloads/:id/logs': { action: 'read', scope: byWorkload },
  // Usage history (history-routes.ts): a project's is read as the project is; pools and nodes as nodes are.
  'GET /history/projects/:name': { action: 'read', scope: byProject },
  'GET /history/nodepools/:name': { action: 'read-nodes', scope: cluster },
  'GET /history/nodes/:name': { action: 'read-nodes', scope: cluster },
  'GET /top': { action: 'read', scope: filtered, shape: topShape },
  'GET /shares': { action: 'read', scope: filtered, visible: readsQueue },

  ...policyRoutes('/policies'),
  ...policyRoutes('/rules'),

  'POST /users': { action: 'manage-cluster', scope: cluster },
  'GET /users': { action: 'manage-cluster', scope: cluster },
  'DELETE /users/:name': { action: 'manage-cluster', scope: cluster },

  'POST /tokens': {
    action: 'manage-cluster',
    // A user mints its own API tokens; join tokens and other users' tokens are an admin's.
    scope: (r, _look, c) => {
      const user = field(r.body, 'user');
      return field(r.body, 'kind') === 'user' && (user === undefined || user === c.user) ? 'self' : CLUSTER;
    },
  },
  'GET /tokens': { action: 'read', scope: filtered, visible: ownTokenOrAdmin },
  'DELETE /tokens/:id': {
    action: 'manage-cluster',
    scope: (r, look, c) => {
      const t = look.tokens.get(param(r, 'id'));
      if (t === undefined)
        failRequest('TESSERA_E_NOT_FOUND', `no token ${param(r, 'id')}; see tessera token list`);
      return t.kind === 'user' && t.subject === c.user ? 'self' : CLUSTER;
    },
  },

  // A department-admin hands out roles inside its department (Run:ai); `admin` is the cluster admin's to give.
  'POST /access-rules': {
    action: manageAt,
    scope: (r, look) => grantScope(look, field(r.body, 'role'), field(r.body, 'scope')),
  },
  'GET /access-rules': { action: 'read', scope: filtered, visible: ownOrAdmin },
  'DELETE /access-rules/:id': {
    action: manageAt,
    scope: (r, look) => {
      const rule = getAccessRule(look.db, Number(param(r, 'id')));
      if (rule === undefined)
        failRequest('TESSERA_E_NOT_FOUND', `no access rule ${param(r, 'id')}; see tessera access list`);
      return grantScope(look, rule.role, rule.scope);
    },
  },
};
