// @ts-check
/**
 * What the logged-in user may do, so a page offers only the actions the API would allow: a copy of
 * allocator/identity/rbac.ts's `can` (the browser cannot load the TypeScript), fed with the rules
 * `GET /whoami` returns. test/web/access.test.ts checks it answers as the original does on every
 * role, verb and scope, so the two cannot drift. The API still decides: a hidden button is a
 * courtesy, never the guard.
 */

/** The roles, weakest first. */
export const ROLES = ['viewer', 'researcher', 'department-admin', 'admin'];

/** What a route does to its target scope. */
export const VERBS = [
  'read',
  'read-nodes',
  'read-policy',
  'write-workload',
  'manage-project',
  'manage-department',
  'manage-cluster',
];

/**
 * @typedef {{ kind: 'cluster' }
 *   | { kind: 'department', department: string }
 *   | { kind: 'project', project: string, department: string | null }} Scope
 */
/** @typedef {{ role: string, scope: Scope }} Grant */

/** @type {Readonly<Record<string, readonly string[]>>} */
const ROLE_VERBS = {
  admin: VERBS,
  'department-admin': VERBS.filter((v) => v !== 'manage-cluster'),
  researcher: ['read', 'read-policy', 'write-workload'],
  viewer: ['read', 'read-policy'],
};

/** The whole cluster. @type {Scope} */
export const CLUSTER = { kind: 'cluster' };

/** Whether `outer` is `inner` or above it. @param {Scope} outer @param {Scope} inner */
export function covers(outer, inner) {
  if (outer.kind === 'cluster') return true;
  if (outer.kind === 'department') {
    if (inner.kind === 'department') return inner.department === outer.department;
    return inner.kind === 'project' && inner.department === outer.department;
  }
  return inner.kind === 'project' && inner.project === outer.project;
}

/** @param {Grant} grant @param {string} verb @param {Scope} target */
function allows(grant, verb, target) {
  const verbs = ROLE_VERBS[grant.role] ?? [];
  if (verb === 'read-nodes') return verbs.includes('read-nodes') || grant.scope.kind === 'cluster';
  if (!verbs.includes(verb)) return false;
  if (verb === 'read-policy' && covers(target, grant.scope)) return true;
  return covers(grant.scope, target);
}

/** Whether any of `grants` lets its holder do `verb` on `target`. @param {readonly Grant[]} grants @param {string} verb @param {Scope} target */
export function can(grants, verb, target) {
  return grants.some((g) => allows(g, verb, target));
}

/**
 * The grants of `/whoami`'s rules (`cluster`, `department/<d>`, `project/<p>`); a project's
 * department comes from `departmentOf` (null when unknown: only a rule naming it or above covers it).
 * A rule this console does not understand grants nothing here.
 * @param {readonly { role: string, scope: string }[]} rules
 * @param {(project: string) => string | null} departmentOf
 * @returns {Grant[]}
 */
export function grantsOf(rules, departmentOf) {
  /** @type {Grant[]} */
  const out = [];
  for (const r of rules) {
    if (!ROLES.includes(r.role)) continue;
    const s = scopeOf(r.scope, departmentOf);
    if (s !== null) out.push({ role: r.role, scope: s });
  }
  return out;
}

/**
 * A scope written as access rules write it, or null when it is none of the three forms.
 * @param {string} written @param {(project: string) => string | null} departmentOf
 * @returns {Scope | null}
 */
export function scopeOf(written, departmentOf) {
  if (written === 'cluster') return CLUSTER;
  const m = /^(department|project)\/([^/\s]+)$/.exec(written);
  if (m === null || m[2] === undefined) return null;
  return m[1] === 'department'
    ? { kind: 'department', department: m[2] }
    : { kind: 'project', project: m[2], department: departmentOf(m[2]) };
}
