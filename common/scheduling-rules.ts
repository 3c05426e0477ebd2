/**
 * Scheduling rules (docs/architecture.md §7), PURE: per scope and workload type,
 * `maxRuntimeSeconds`, `idleGpuTimeoutSeconds` and `nodeTypes`. Inherited cluster -> department ->
 * project where a lower scope only tightens: the smallest time wins, node types are intersected.
 * Every effective value remembers the scope that set it, so a stop can say which rule did it.
 */
import { z } from 'zod';
import { err, ok, type Result, tesseraError } from './errors.ts';
import { isRecord } from './policy-fields.ts';

/** One scope's rules for one workload type; all optional. */
export interface SchedulingRules {
  maxRuntimeSeconds?: number;
  idleGpuTimeoutSeconds?: number;
  nodeTypes?: string[];
}

/** Rules with the scope that wrote them. */
export interface ScopedRules {
  scope: string;
  rules: SchedulingRules;
}

/** The merged rules of a chain; each value with the scope that set it. */
export interface EffectiveRules {
  maxRuntimeSeconds?: { value: number; scope: string };
  idleGpuTimeoutSeconds?: { value: number; scope: string };
  nodeTypes?: { value: string[]; scope: string };
}

const seconds = z.number().int().min(1);
const RulesInput = z.strictObject({
  maxRuntimeSeconds: seconds.optional(),
  idleGpuTimeoutSeconds: seconds.optional(),
  nodeTypes: z.array(z.string().min(1)).min(1).optional(),
});

/** Validates an untrusted rules body. */
export function parseSchedulingRules(input: unknown): Result<SchedulingRules> {
  const r = RulesInput.safeParse(input);
  if (r.success) {
    const out: SchedulingRules = {};
    if (r.data.maxRuntimeSeconds !== undefined) out.maxRuntimeSeconds = r.data.maxRuntimeSeconds;
    if (r.data.idleGpuTimeoutSeconds !== undefined) out.idleGpuTimeoutSeconds = r.data.idleGpuTimeoutSeconds;
    if (r.data.nodeTypes !== undefined) out.nodeTypes = [...new Set(r.data.nodeTypes)];
    return ok(out);
  }
  const issue = r.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  return err(
    tesseraError(
      'TESSERA_E_INVALID_SPEC',
      `rules${path === '' ? '' : ` field ${path}`}: ${issue?.message ?? 'invalid'}; rules are {maxRuntimeSeconds: whole seconds >= 1, idleGpuTimeoutSeconds: whole seconds >= 1, nodeTypes: [names]}`,
      { field: path === '' ? undefined : path },
    ),
  );
}

/** Merges cluster -> department -> project: smaller times and intersected node types win. */
export function effectiveRules(...chain: (ScopedRules | undefined)[]): EffectiveRules {
  const out: EffectiveRules = {};
  for (const level of chain) {
    if (level === undefined) continue;
    const { scope, rules } = level;
    for (const key of ['maxRuntimeSeconds', 'idleGpuTimeoutSeconds'] as const) {
      const v = rules[key];
      const cur = out[key];
      if (v !== undefined && (cur === undefined || v < cur.value)) out[key] = { value: v, scope };
    }
    if (rules.nodeTypes !== undefined) {
      const prev = out.nodeTypes?.value;
      const value =
        prev === undefined ? [...rules.nodeTypes] : prev.filter((t) => rules.nodeTypes?.includes(t));
      out.nodeTypes = { value, scope };
    }
  }
  return out;
}

/** Refuses `child` (about to be written at `scope`) where it would loosen the chain above it. */
export function checkRulesTighten(
  parent: EffectiveRules,
  child: SchedulingRules,
  scope: string,
): Result<void> {
  const loosen = (field: string, what: string, by: string) =>
    err(
      tesseraError(
        'TESSERA_E_POLICY_VIOLATION',
        `rules ${scope}: ${field} ${what} set by ${by}; a lower scope may only tighten`,
        { field, context: { scope, by } },
      ),
    );
  for (const key of ['maxRuntimeSeconds', 'idleGpuTimeoutSeconds'] as const) {
    const v = child[key];
    const p = parent[key];
    if (v !== undefined && p !== undefined && v > p.value)
      return loosen(key, `${v} would loosen the limit ${p.value}`, p.scope);
  }
  const p = parent.nodeTypes;
  const extra = child.nodeTypes?.find((t) => p !== undefined && !p.value.includes(t));
  if (p !== undefined && extra !== undefined)
    return loosen(
      'nodeTypes',
      `adds ${JSON.stringify(extra)}, which would loosen ${JSON.stringify(p.value)}`,
      p.scope,
    );
  return ok(undefined);
}

/**
 * Applies the `nodeTypes` rule to a raw submission: an unset `nodeTypes` becomes the rule's list; a
 * given one must be within it. Runs before `parseWorkloadSpec`, like the policies.
 */
export function applyNodeTypes(input: unknown, rules: EffectiveRules): Result<unknown> {
  const rule = rules.nodeTypes;
  if (rule === undefined || !isRecord(input)) return ok(input);
  const why = (message: string) =>
    err(
      tesseraError(
        'TESSERA_E_POLICY_VIOLATION',
        `nodeTypes: ${message} (rule nodeTypes set by ${rule.scope})`,
        {
          field: 'nodeTypes',
          context: { rule: 'nodeTypes', limit: JSON.stringify(rule.value), scope: rule.scope },
        },
      ),
    );
  if (rule.value.length === 0)
    return why('the scopes above this project allow no node type in common; ask an admin to fix the rules');
  const given = input.nodeTypes;
  if (given === undefined) return ok({ ...input, nodeTypes: [...rule.value] });
  if (!Array.isArray(given)) return ok(input);
  const outside = given.find((t) => typeof t !== 'string' || !rule.value.includes(t));
  if (outside !== undefined)
    return why(
      `${JSON.stringify(outside)} is not one of the allowed node types ${JSON.stringify(rule.value)}`,
    );
  if (given.length === 0) return ok({ ...input, nodeTypes: [...rule.value] });
  return ok(input);
}
