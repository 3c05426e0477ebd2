/**
 * Validates an untrusted policy body (common/policy.ts): known spec fields only, rules on a
 * quantity's quantity form, limits and options readable by the spec's own quantity parsers, min <= max.
 */
import { z } from 'zod';
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import type { Policy } from './policy.ts';
import { ContainerPolicyInput, normaliseContainerPolicy } from './policy-container.ts';
import {
  boundOf,
  isPolicyField,
  normaliseRuleValue,
  POLICY_FIELDS_HELP,
  quantityFormOf,
} from './policy-fields.ts';

const ruleValue = z.union([z.string().min(1), z.number()]);
const FieldRuleInput = z.strictObject({
  min: ruleValue.optional(),
  max: ruleValue.optional(),
  options: z.array(ruleValue).min(1).optional(),
  required: z.boolean().optional(),
  canEdit: z.boolean().optional(),
});
const PolicyInput = z.strictObject({
  defaults: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
    .optional(),
  rules: z.record(z.string(), FieldRuleInput).optional(),
  container: ContainerPolicyInput.optional(),
});

/** Validates an untrusted policy body: known fields, readable quantities, min <= max. */
export function parsePolicy(input: unknown): Result<Policy> {
  const r = PolicyInput.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    const msg = `policy${path === '' ? '' : ` field ${path}`}: ${issue?.message ?? 'invalid'}; a policy is {defaults: {FIELD: value}, rules: {FIELD: {min, max, options, required, canEdit}}, container: {requireImage, allowedImagePrefixes, runAsNonRoot, allowedHostPaths}}`;
    return err(tesseraError('TESSERA_E_INVALID_SPEC', msg, { field: path === '' ? undefined : path }));
  }
  const policy: Policy = { defaults: { ...r.data.defaults }, rules: {} };
  if (r.data.container !== undefined) {
    const container = normaliseContainerPolicy(r.data.container);
    if (!container.ok) return container;
    policy.container = container.value;
  }
  for (const field of Object.keys(policy.defaults)) {
    if (!isPolicyField(field)) return err(unknownField(`defaults.${field}`, field));
  }
  for (const [field, rule] of Object.entries(r.data.rules ?? {})) {
    const unit = quantityFormOf(field);
    if (unit !== undefined)
      return err(
        tesseraError(
          'TESSERA_E_INVALID_SPEC',
          `rules.${field}: write the rule on ${unit}; its limits accept any form (quantity or number)`,
          { field: `rules.${field}` },
        ),
      );
    if (!isPolicyField(field)) return err(unknownField(`rules.${field}`, field));
    for (const v of [rule.min, rule.max, ...(rule.options ?? [])]) {
      if (v === undefined) continue;
      const n = normaliseRuleValue(field, v);
      if (!n.ok) return err({ ...n.error, field: `rules.${field}` });
    }
    const min = boundOf(field, rule.min, '');
    const max = boundOf(field, rule.max, '');
    if (min !== undefined && max !== undefined && min.value > max.value)
      return err(
        tesseraError('TESSERA_E_INVALID_SPEC', `rules.${field}: min ${rule.min} is above max ${rule.max}`, {
          field: `rules.${field}`,
        }),
      );
    policy.rules[field] = { ...rule };
  }
  return ok(policy);
}

function unknownField(where: string, field: string): TesseraError {
  return tesseraError(
    'TESSERA_E_INVALID_SPEC',
    `${where}: ${field} is not a spec field a policy may name; fields: ${POLICY_FIELDS_HELP}`,
    { field: where },
  );
}
