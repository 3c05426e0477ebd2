/**
 * What a submission goes through to become a spec: the effective policy of its project and type
 * (defaults filled, field rules checked) and the `nodeTypes` scheduling rule on the raw input, then
 * the spec validator, then the policy's container rules (image, user, host paths) on the validated
 * spec, where paths and images are already in their one normal form. Reads the store, so it lives
 * here; the merging and checking are the pure functions of common/policy.ts,
 * common/policy-container.ts and common/scheduling-rules.ts. An input without a known project passes
 * the policies untouched: the store then says the project does not exist.
 */
import type { Result } from '../../common/errors.ts';
import { applyPolicy, checkContainerPolicy, type EffectiveContainerPolicy } from '../../common/policy.ts';
import { isRecord } from '../../common/policy-fields.ts';
import { applyNodeTypes } from '../../common/scheduling-rules.ts';
import {
  parseWorkloadSpec,
  WORKLOAD_TYPES,
  type WorkloadSpec,
  type WorkloadType,
} from '../../common/workload.ts';
import type { Db } from '../store/db.ts';
import { effectivePolicyOf, effectiveRulesOf, projectChain } from '../store/policies.ts';

function isWorkloadType(t: unknown): t is WorkloadType {
  return typeof t === 'string' && (WORKLOAD_TYPES as readonly string[]).includes(t);
}

/** The spec `input` makes under its project's policies and rules, or the violation or invalid field. */
export function applyWorkloadPolicies(db: Db, input: unknown): Result<WorkloadSpec> {
  let raw = input;
  let container: EffectiveContainerPolicy | undefined;
  if (isRecord(input) && typeof input.project === 'string' && isWorkloadType(input.type)) {
    const chain = projectChain(db, input.project);
    if (chain.ok) {
      const effective = effectivePolicyOf(db, chain.value, input.type);
      const withPolicy = applyPolicy(input, effective);
      if (!withPolicy.ok) return withPolicy;
      const withRules = applyNodeTypes(withPolicy.value, effectiveRulesOf(db, chain.value, input.type));
      if (!withRules.ok) return withRules;
      raw = withRules.value;
      container = effective.container;
    }
  }
  const spec = parseWorkloadSpec(raw);
  if (!spec.ok || container === undefined) return spec;
  const bad = checkContainerPolicy(spec.value, container, spec.value);
  return bad === undefined ? spec : { ok: false, error: bad };
}
