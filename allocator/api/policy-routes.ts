/**
 * `/policies` and `/rules` (docs/architecture.md §7): per scope (`cluster`, `department:<d>`,
 * `project:<p>`) and workload type, read, write, delete, and the effective merge for a project.
 * A write that would loosen what a higher scope set is refused with 422 naming field and scope.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Result } from '../../common/errors.ts';
import { checkTightens, isScope, type Policy } from '../../common/policy.ts';
import { parsePolicy } from '../../common/policy-parse.ts';
import {
  checkRulesTighten,
  parseSchedulingRules,
  type SchedulingRules,
} from '../../common/scheduling-rules.ts';
import { WORKLOAD_TYPES, type WorkloadType } from '../../common/workload.ts';
import { type Db, inTransaction } from '../store/db.ts';
import {
  deleteScoped,
  effectivePolicyOf,
  effectiveRulesOf,
  getScoped,
  listScoped,
  projectChain,
  putScoped,
  type ScopedKind,
  type ScopedRecord,
  scopesAbove,
} from '../store/policies.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';

type ScopeParams = { Params: { scope: string; type: string } };

const EffectiveQuery = z.strictObject({ project: z.string().min(1), type: z.enum(WORKLOAD_TYPES) });

/** How one of the two families parses, merges and checks its documents. */
interface Family<T> {
  path: string;
  kind: ScopedKind;
  what: string;
  parse: (input: unknown) => Result<T>;
  /** Refuses `body` at `scope` when it loosens what the scopes `above` set. */
  check: (db: Db, above: string[], type: WorkloadType, body: T, scope: string) => Result<void>;
  effective: (db: Db, chain: string[], type: WorkloadType) => unknown;
}

const POLICIES: Family<Policy> = {
  path: '/policies',
  kind: 'policies',
  what: 'policy',
  parse: parsePolicy,
  check: (db, above, type, body, scope) => checkTightens(effectivePolicyOf(db, above, type), body, scope),
  effective: effectivePolicyOf,
};

const RULES: Family<SchedulingRules> = {
  path: '/rules',
  kind: 'scheduling_rules',
  what: 'scheduling rules',
  parse: parseSchedulingRules,
  check: (db, above, type, body, scope) => checkRulesTighten(effectiveRulesOf(db, above, type), body, scope),
  effective: effectiveRulesOf,
};

function view<T>(r: ScopedRecord<T>): Record<string, unknown> {
  return { scope: r.scope, type: r.type, ...r.body, updatedAt: new Date(r.updatedMs).toISOString() };
}

function scopeAndType(params: { scope: string; type: string }): { scope: string; type: WorkloadType } {
  if (!isScope(params.scope))
    failRequest(
      'TESSERA_E_INVALID_SPEC',
      `scope ${JSON.stringify(params.scope)}: expected cluster, department:<name> or project:<name>`,
      'scope',
    );
  const type = parseInput(z.enum(WORKLOAD_TYPES), params.type, 'workload type');
  return { scope: params.scope, type };
}

function registerFamily<T>(app: FastifyInstance, ctx: ApiContext, f: Family<T>): void {
  app.get(f.path, async () => listScoped<T>(ctx.db, f.kind).map(view));

  app.get(`${f.path}/effective`, async (request) => {
    const q = parseInput(EffectiveQuery, request.query, 'query');
    const chain = unwrap(projectChain(ctx.db, q.project));
    return { project: q.project, type: q.type, chain, effective: f.effective(ctx.db, chain, q.type) };
  });

  app.get<ScopeParams>(`${f.path}/:scope/:type`, async (request) => {
    const { scope, type } = scopeAndType(request.params);
    const r = getScoped<T>(ctx.db, f.kind, scope, type);
    return r === undefined
      ? failRequest('TESSERA_E_NOT_FOUND', `no ${f.what} for scope ${scope} and type ${type}`)
      : view(r);
  });

  app.put<ScopeParams>(`${f.path}/:scope/:type`, async (request) => {
    const { scope, type } = scopeAndType(request.params);
    const body = unwrap(f.parse(request.body ?? {}));
    // Read, check and write in one transaction so a concurrent write above cannot slip between.
    const saved = inTransaction(ctx.db, () => {
      const above = unwrap(scopesAbove(ctx.db, scope));
      unwrap(f.check(ctx.db, above, type, body, scope));
      return putScoped(ctx.db, f.kind, scope, type, body, ctx.now());
    });
    return view(saved);
  });

  app.delete<ScopeParams>(`${f.path}/:scope/:type`, async (request) => {
    const { scope, type } = scopeAndType(request.params);
    unwrap(deleteScoped(ctx.db, f.kind, scope, type));
    return { scope, type, deleted: true };
  });
}

/** `/policies` and `/rules`. */
export function registerPolicyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerFamily(app, ctx, POLICIES);
  registerFamily(app, ctx, RULES);
}
