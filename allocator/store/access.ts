/**
 * Users and access rules: a user is a name that tokens and rules point at; an access
 * rule `{subject, role, scope}` gives a user a role on `cluster`, `department/<d>` or `project/<p>`.
 * The store validates names and that the scope exists; what a rule allows is identity/rbac.ts's.
 */
import type { Result } from '../../common/errors.ts';
import { isRole, parseScopeName, ROLES, type Role, type Scope } from '../identity/rbac.ts';
import { type Db, inTransaction } from './db.ts';
import { fail, guard } from './errors.ts';
import { departmentExists } from './org.ts';

/** A user as stored. */
export interface UserRecord {
  name: string;
  createdMs: number;
}

/** An access rule as stored; `scope` is its written form (`project/vision`). */
export interface AccessRuleRecord {
  id: number;
  subject: string;
  role: Role;
  scope: string;
  createdMs: number;
}

/** What `grantAccess` takes; strings, validated here. */
export interface AccessRuleInput {
  subject: string;
  role: string;
  scope: string;
}

const USER_NAME = /^[a-z0-9][a-z0-9._@-]{0,62}$/i;

interface RuleRow {
  id: number;
  subject: string;
  role: string;
  scope: string;
  created_ms: number;
}

function toRule(r: RuleRow): AccessRuleRecord {
  // Only roles validated by grantAccess are written.
  return { id: r.id, subject: r.subject, role: r.role as Role, scope: r.scope, createdMs: r.created_ms };
}

/** Creates a user. */
export function createUser(db: Db, name: string, nowMs: number): Result<UserRecord> {
  return guard(() => {
    if (!USER_NAME.test(name))
      fail('TESSERA_E_INVALID_SPEC', `user name '${name}': use 1-63 letters, digits, '.', '_', '@' or '-'`);
    if (getUser(db, name) !== undefined) fail('TESSERA_E_CONFLICT', `user ${name} exists`);
    db.prepare('INSERT INTO users (name, created_ms) VALUES (?, ?)').run(name, nowMs);
    return { name, createdMs: nowMs };
  });
}

/** One user, or undefined. */
export function getUser(db: Db, name: string): UserRecord | undefined {
  const r = db.prepare('SELECT name, created_ms FROM users WHERE name = ?').get(name) as
    | { name: string; created_ms: number }
    | undefined;
  return r === undefined ? undefined : { name: r.name, createdMs: r.created_ms };
}

/** Every user, oldest first. */
export function listUsers(db: Db): UserRecord[] {
  const rows = db.prepare('SELECT name, created_ms FROM users ORDER BY created_ms, name').all() as {
    name: string;
    created_ms: number;
  }[];
  return rows.map((r) => ({ name: r.name, createdMs: r.created_ms }));
}

function clusterAdmins(db: Db): string[] {
  const rows = db
    .prepare("SELECT DISTINCT subject FROM access_rules WHERE role = 'admin' AND scope = 'cluster'")
    .all() as { subject: string }[];
  return rows.map((r) => r.subject);
}

/** Deletes a user and its access rules (its tokens are the token store's); never the last cluster admin. */
export function deleteUser(db: Db, name: string): Result<void> {
  return guard(() =>
    inTransaction(db, () => {
      if (getUser(db, name) === undefined) fail('TESSERA_E_NOT_FOUND', `no user named ${name}`);
      const admins = clusterAdmins(db);
      if (admins.length === 1 && admins[0] === name)
        fail(
          'TESSERA_E_CONFLICT',
          `${name} is the last admin on cluster; grant another user admin cluster first`,
        );
      db.prepare('DELETE FROM access_rules WHERE subject = ?').run(name);
      db.prepare('DELETE FROM users WHERE name = ?').run(name);
    }),
  );
}

/** The scope a written scope names, with a project's department; a NOT_FOUND or INVALID error otherwise. */
function resolveScope(db: Db, written: string): Scope {
  const parsed = parseScopeName(written);
  if (parsed === null)
    fail('TESSERA_E_INVALID_SPEC', `scope '${written}': write cluster, department/<name> or project/<name>`);
  if (parsed.kind === 'cluster') return { kind: 'cluster' };
  if (parsed.kind === 'department') {
    if (!departmentExists(db, parsed.name))
      fail('TESSERA_E_NOT_FOUND', `no department named ${parsed.name}; create it first`);
    return { kind: 'department', department: parsed.name };
  }
  const p = db.prepare('SELECT department FROM projects WHERE name = ?').get(parsed.name) as
    | { department: string }
    | undefined;
  if (p === undefined) fail('TESSERA_E_NOT_FOUND', `no project named ${parsed.name}; create it first`);
  return { kind: 'project', project: parsed.name, department: p.department };
}

/** Adds an access rule; the user and the scope must exist, and the same rule must not exist. */
export function grantAccess(db: Db, input: AccessRuleInput, nowMs: number): Result<AccessRuleRecord> {
  return guard(() => {
    if (getUser(db, input.subject) === undefined)
      fail('TESSERA_E_NOT_FOUND', `no user named ${input.subject}; create it with tessera user create`);
    if (!isRole(input.role))
      fail('TESSERA_E_INVALID_SPEC', `role '${input.role}': use one of ${ROLES.join(', ')}`);
    resolveScope(db, input.scope);
    const { id } = db
      .prepare('INSERT INTO access_rules (subject, role, scope, created_ms) VALUES (?, ?, ?, ?) RETURNING id')
      .get(input.subject, input.role, input.scope, nowMs) as { id: number };
    return {
      id,
      subject: input.subject,
      role: input.role,
      scope: input.scope,
      createdMs: nowMs,
    };
  });
}

/** Makes sure user `name` exists (made at `nowMs` if not); safe to repeat. */
export function ensureUser(db: Db, name: string, nowMs: number): void {
  db.prepare('INSERT INTO users (name, created_ms) VALUES (?, ?) ON CONFLICT DO NOTHING').run(name, nowMs);
}

/** Makes sure `subject` exists and holds `role` on `scope` (bootstrap's admin); safe to repeat. */
export function ensureAccess(db: Db, subject: string, role: Role, scope: string, nowMs: number): void {
  inTransaction(db, () => {
    ensureUser(db, subject, nowMs);
    db.prepare(
      'INSERT INTO access_rules (subject, role, scope, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(subject, role, scope, nowMs);
  });
}

/** Access rules, all or one subject's, oldest first. */
export function listAccessRules(db: Db, subject?: string): AccessRuleRecord[] {
  const rows =
    subject === undefined
      ? db.prepare('SELECT id, subject, role, scope, created_ms FROM access_rules ORDER BY id').all()
      : db
          .prepare(
            'SELECT id, subject, role, scope, created_ms FROM access_rules WHERE subject = ? ORDER BY id',
          )
          .all(subject);
  return (rows as RuleRow[]).map(toRule);
}

/** One access rule, or undefined. */
export function getAccessRule(db: Db, id: number): AccessRuleRecord | undefined {
  const row = db
    .prepare('SELECT id, subject, role, scope, created_ms FROM access_rules WHERE id = ?')
    .get(id) as RuleRow | undefined;
  return row === undefined ? undefined : toRule(row);
}

/** Removes an access rule; never the last admin on cluster, which would lock everyone out. */
export function revokeAccess(db: Db, id: number): Result<AccessRuleRecord> {
  return guard(() =>
    inTransaction(db, () => {
      const rule = getAccessRule(db, id);
      if (rule === undefined) fail('TESSERA_E_NOT_FOUND', `no access rule ${id}; see tessera access list`);
      const admins = clusterAdmins(db);
      if (rule.role === 'admin' && rule.scope === 'cluster' && admins.length === 1)
        fail(
          'TESSERA_E_CONFLICT',
          `rule ${id} is the last admin on cluster; grant another user admin cluster first`,
        );
      db.prepare('DELETE FROM access_rules WHERE id = ?').run(id);
      return rule;
    }),
  );
}

/** Every project's department, read once per request rather than once per row. */
export function projectDepartments(db: Db): Map<string, string> {
  const rows = db.prepare('SELECT name, department FROM projects').all() as {
    name: string;
    department: string;
  }[];
  return new Map(rows.map((r) => [r.name, r.department]));
}
