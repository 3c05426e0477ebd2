/**
 * Policies and scheduling rules, keyed by (scope, workload type) with JSON bodies validated before
 * they are written (common/policy.ts, common/scheduling-rules.ts). The chain of a project is
 * `cluster`, `department:<its department>`, `project:<it>`; the effective policy merges it.
 */
import type { Result } from '../../common/errors.ts';
import {
  type EffectivePolicy,
  effectivePolicy,
  type Policy,
  type ScopedPolicy,
} from '../../common/policy.ts';
import { type EffectiveRules, effectiveRules, type SchedulingRules } from '../../common/scheduling-rules.ts';
import type { WorkloadType } from '../../common/workload.ts';
import type { Db } from './db.ts';
import { fail, guard } from './errors.ts';

/** The two tables of scoped documents. */
export type ScopedKind = 'policies' | 'scheduling_rules';

/** One stored document. */
export interface ScopedRecord<T> {
  scope: string;
  type: WorkloadType;
  body: T;
  updatedMs: number;
}

interface Row {
  scope: string;
  type: string;
  body: string;
  updated_ms: number;
}

function toRecord<T>(r: Row): ScopedRecord<T> {
  // Only bodies validated by parsePolicy / parseSchedulingRules and known types are written.
  return {
    scope: r.scope,
    type: r.type as WorkloadType,
    body: JSON.parse(r.body) as T,
    updatedMs: r.updated_ms,
  };
}

/** Creates or replaces the document of (scope, type). */
export function putScoped<T>(
  db: Db,
  kind: ScopedKind,
  scope: string,
  type: WorkloadType,
  body: T,
  nowMs: number,
): ScopedRecord<T> {
  db.prepare(
    `INSERT INTO ${kind} (scope, type, body, updated_ms) VALUES (?, ?, ?, ?)
     ON CONFLICT (scope, type) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms`,
  ).run(scope, type, JSON.stringify(body), nowMs);
  return { scope, type, body, updatedMs: nowMs };
}

/** The document of (scope, type), or undefined. */
export function getScoped<T>(
  db: Db,
  kind: ScopedKind,
  scope: string,
  type: WorkloadType,
): ScopedRecord<T> | undefined {
  const r = db.prepare(`SELECT * FROM ${kind} WHERE scope = ? AND type = ?`).get(scope, type) as
    | Row
    | undefined;
  return r === undefined ? undefined : toRecord<T>(r);
}

/** Every document of `kind`, by scope then type. */
export function listScoped<T>(db: Db, kind: ScopedKind): ScopedRecord<T>[] {
  return (db.prepare(`SELECT * FROM ${kind} ORDER BY scope, type`).all() as Row[]).map((r) => toRecord<T>(r));
}

/** Deletes the document of (scope, type); NOT_FOUND when there is none. */
export function deleteScoped(db: Db, kind: ScopedKind, scope: string, type: WorkloadType): Result<void> {
  return guard(() => {
    const n = db.prepare(`DELETE FROM ${kind} WHERE scope = ? AND type = ?`).run(scope, type).changes;
    const what = kind === 'policies' ? 'policy' : 'scheduling rules';
    if (n === 0) fail('TESSERA_E_NOT_FOUND', `no ${what} for scope ${scope} and type ${type}`);
  });
}

/** The scopes above `scope`, highest first; NOT_FOUND when its department or project does not exist. */
export function scopesAbove(db: Db, scope: string): Result<string[]> {
  return guard(() => {
    if (scope === 'cluster') return [];
    const [kind, name] = [scope.slice(0, scope.indexOf(':')), scope.slice(scope.indexOf(':') + 1)];
    if (kind === 'department') {
      if (db.prepare('SELECT 1 FROM departments WHERE name = ?').get(name) === undefined)
        fail('TESSERA_E_NOT_FOUND', `department ${name} does not exist`);
      return ['cluster'];
    }
    const p = db.prepare('SELECT department FROM projects WHERE name = ?').get(name) as
      | { department: string }
      | undefined;
    if (p === undefined) fail('TESSERA_E_NOT_FOUND', `project ${name} does not exist`);
    return ['cluster', `department:${p.department}`];
  });
}

/** The chain of `project`: cluster, its department, itself. */
export function projectChain(db: Db, project: string): Result<string[]> {
  const scope = `project:${project}`;
  const above = scopesAbove(db, scope);
  return above.ok ? { ok: true, value: [...above.value, scope] } : above;
}

/** The merged policy of the scopes `chain` (highest first) for `type`. */
export function effectivePolicyOf(db: Db, chain: readonly string[], type: WorkloadType): EffectivePolicy {
  const levels = chain.map((scope): ScopedPolicy | undefined => {
    const r = getScoped<Policy>(db, 'policies', scope, type);
    return r === undefined ? undefined : { scope, policy: r.body };
  });
  return effectivePolicy(levels[0], levels[1], levels[2]);
}

/** The merged scheduling rules of the scopes `chain` (highest first) for `type`. */
export function effectiveRulesOf(db: Db, chain: readonly string[], type: WorkloadType): EffectiveRules {
  return effectiveRules(
    ...chain.map((scope) => {
      const r = getScoped<SchedulingRules>(db, 'scheduling_rules', scope, type);
      return r === undefined ? undefined : { scope, rules: r.body };
    }),
  );
}

/** True when some scheduling rule exists and some workload runs: the periodic cycle must check it. */
export function hasRuledWork(db: Db): boolean {
  const row = db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM scheduling_rules) AND EXISTS
         (SELECT 1 FROM workloads WHERE phase IN ('Running', 'Degraded')) AS busy`,
    )
    .get() as { busy: number };
  return row.busy === 1;
}
