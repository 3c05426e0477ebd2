/**
 * Who may do what where, as in Run:ai: an access rule gives a user a role on a scope
 * (cluster, a department, a project) and everything below it. Pure: `can(rules, verb, target)`
 * needs no store, request or clock; permissions.ts turns a request into a verb and a target.
 *
 * - admin: everything within its scope (at cluster: pools, nodes, users, rules, all tokens).
 * - department-admin: manages the projects (and their quotas, policies, workloads) of its
 *   departments, and reads cluster-wide node info; never a department's own quota, which is
 *   `manage-cluster`, and never another department.
 * - researcher: submits and manages workloads in its projects (on a department: all its projects).
 * - viewer: reads within its scope.
 * A lower scope never grants beyond its subtree, with two read-only exceptions: a department-admin
 * reads nodes and pools, and anyone reads the policies and rules of the scopes above its own,
 * because those bind the workloads it submits.
 */

/** The roles, weakest first. */
export const ROLES = ['viewer', 'researcher', 'department-admin', 'admin'] as const;
/** A role an access rule gives. */
export type Role = (typeof ROLES)[number];

/**
 * What a request does: the verbs of an access rule (Kubernetes RBAC's word; the scheduler's actions
 * are something else).
 */
export const VERBS = [
  'read',
  'read-nodes',
  'read-policy',
  'write-workload',
  'manage-project',
  'manage-department',
  'manage-cluster',
] as const;
/** A verb a route performs on its target scope. */
export type Verb = (typeof VERBS)[number];

/**
 * Where: the whole cluster, a department, or a project with its department (null when the
 * project does not exist, so only a rule naming it or the cluster covers it).
 */
export type Scope =
  | { kind: 'cluster' }
  | { kind: 'department'; department: string }
  | { kind: 'project'; project: string; department: string | null };

/** A role on a scope, as `can` needs it. */
export interface Grant {
  role: Role;
  scope: Scope;
}

/** The whole cluster. */
export const CLUSTER: Scope = { kind: 'cluster' };

const ROLE_VERBS: Readonly<Record<Role, readonly Verb[]>> = {
  admin: VERBS,
  // Everything but the cluster's own settings.
  'department-admin': VERBS.filter((v) => v !== 'manage-cluster'),
  researcher: ['read', 'read-policy', 'write-workload'],
  viewer: ['read', 'read-policy'],
};

/** Whether `outer` is `inner` or above it. */
export function covers(outer: Scope, inner: Scope): boolean {
  if (outer.kind === 'cluster') return true;
  if (outer.kind === 'department') {
    if (inner.kind === 'department') return inner.department === outer.department;
    return inner.kind === 'project' && inner.department === outer.department;
  }
  return inner.kind === 'project' && inner.project === outer.project;
}

function allows(grant: Grant, verb: Verb, target: Scope): boolean {
  // Node and pool info is cluster-wide; a department-admin needs it to place its projects' work,
  // and any role on the whole cluster reads it.
  if (verb === 'read-nodes')
    return ROLE_VERBS[grant.role].includes('read-nodes') || grant.scope.kind === 'cluster';
  if (!ROLE_VERBS[grant.role].includes(verb)) return false;
  // The policies above a scope constrain it, so whoever acts in the scope may read them.
  if (verb === 'read-policy' && covers(target, grant.scope)) return true;
  return covers(grant.scope, target);
}

/** Whether any of `grants` lets its holder do `verb` on `target`. */
export function can(grants: readonly Grant[], verb: Verb, target: Scope): boolean {
  return grants.some((g) => allows(g, verb, target));
}

/** `cluster`, `department/<d>` or `project/<p>`: how access rules and messages write a scope. */
export function scopeName(scope: Scope): string {
  if (scope.kind === 'cluster') return 'cluster';
  return scope.kind === 'department' ? `department/${scope.department}` : `project/${scope.project}`;
}

/** A scope name split into its kind and name, or null when it is neither of the three forms. */
export function parseScopeName(
  s: string,
): { kind: 'cluster' } | { kind: 'department' | 'project'; name: string } | null {
  if (s === 'cluster') return { kind: 'cluster' };
  const m = /^(department|project)\/([^/\s]+)$/.exec(s);
  if (m === null) return null;
  return { kind: m[1] === 'department' ? 'department' : 'project', name: m[2] ?? '' };
}

/** The weakest role that may do `verb`, and the scope to grant it on, for a 403 that says what to ask for. */
export function neededGrant(verb: Verb, target: Scope): { role: Role; scope: string } {
  const role: Role =
    verb === 'read' || verb === 'read-policy'
      ? 'viewer'
      : verb === 'write-workload'
        ? 'researcher'
        : verb === 'manage-cluster'
          ? 'admin'
          : 'department-admin';
  if (verb === 'manage-cluster' || verb === 'read-nodes') return { role, scope: 'cluster' };
  // A project is managed from its department.
  if (verb === 'manage-project' && target.kind === 'project' && target.department !== null)
    return { role, scope: `department/${target.department}` };
  return { role, scope: scopeName(target) };
}

/** Whether `s` is a role name. */
export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
