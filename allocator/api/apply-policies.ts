/**
 * What a submission goes through before the spec validator: the effective policy of its project and
 * type (defaults filled, rules checked) and the `nodeTypes` scheduling rule. Reads the store, so it
 * lives here; the merging and checking are the pure functions of common/policy.ts and
 * common/scheduling-rules.ts. An input without a known project or type passes unchanged: the spec
 * validator and the store then say what is wrong with it.
 */
import type { Result } from '../../common/errors.ts';
import { applyPolicy } from '../../common/policy.ts';
import { isRecord } from '../../common/policy-fields.ts';
import { applyNodeTypes } from '../../common/scheduling-rules.ts';
import { WORKLOAD_TYPES, type WorkloadType } from '../../common/workload.ts';
import type { Db } from '../store/db.ts';
import { effectivePolicyOf, effectiveRulesOf, projectChain } from '../store/policies.ts';

function isWorkloadType(t: unknown): t is WorkloadType {
  return typeof t === 'string' && (WORKLOAD_TYPES as readonly string[]).includes(t);
}

/** `input` after its project's policies and node type rule, or the violation. */
export function applyWorkloadPolicies(db: Db, input: unknown): Result<unknown> {
  if (!isRecord(input) || typeof input.project !== 'string' || !isWorkloadType(input.type))
    return { ok: true, value: input };
  const chain = projectChain(db, input.project);
  if (!chain.ok) return { ok: true, value: input };
  const withPolicy = applyPolicy(input, effectivePolicyOf(db, chain.value, input.type));
  if (!withPolicy.ok) return withPolicy;
  return applyNodeTypes(withPolicy.value, effectiveRulesOf(db, chain.value, input.type));
}
