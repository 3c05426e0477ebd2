/**
 * Workload policies (docs/architecture.md §7), PURE: per scope (`cluster`, `department:<d>`,
 * `project:<p>`) and workload type, `defaults` for spec fields and `rules` per field. Inherited
 * cluster -> department -> project, where a lower scope can only tighten: `effectivePolicy` merges
 * (highest min, lowest max, options intersected, required and canEdit:false sticky), `checkTightens`
 * refuses a write that would loosen, and `applyPolicy` fills defaults into a raw submission and
 * checks it, before `parseWorkloadSpec` sees it. The container rules (policy-container.ts) are
 * merged here too but checked after `parseWorkloadSpec`, on normalised paths and images, by
 * `checkContainerPolicy`. Every violation names field, rule, limit and scope. Parsing an untrusted
 * policy body into a `Policy` is policy-parse.ts, which builds on this file.
 */
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import {
  type ContainerPolicy,
  containerDefaultsProblem,
  containerLoosens,
  type EffectiveContainerPolicy,
  mergeContainer,
} from './policy-container.ts';
import {
  type Bound,
  boundOf,
  EXCLUSIVE_GROUPS,
  getPath,
  isQuantityField,
  isRecord,
  normaliseAll,
  quantityFormOf,
  type RuleValue,
  readField,
  setPath,
} from './policy-fields.ts';

export type { ContainerPolicy, EffectiveContainerPolicy } from './policy-container.ts';
export { checkContainerPolicy } from './policy-container.ts';
export type { Bound, RuleValue } from './policy-fields.ts';

/** A default as written: what the spec field would hold. */
export type DefaultValue = string | number | boolean | string[];

/** The rules on one field; all optional. `canEdit: false` pins the field to its default. */
export interface FieldRule {
  min?: RuleValue;
  max?: RuleValue;
  options?: RuleValue[];
  required?: boolean;
  canEdit?: boolean;
}

/**
 * One scope's policy for one workload type. Keys are dotted spec paths (`resources.gpuFraction`);
 * `container` holds the image, user and host path rules (common/policy-container.ts).
 */
export interface Policy {
  defaults: Record<string, DefaultValue>;
  rules: Record<string, FieldRule>;
  container?: ContainerPolicy;
}

/** A policy with the scope that wrote it. */
export interface ScopedPolicy {
  scope: string;
  policy: Policy;
}

/** The merged rule on one field; every part remembers the scope that set it. */
export interface EffectiveRule {
  min?: Bound;
  max?: Bound;
  options?: { values: RuleValue[]; normalised: RuleValue[]; scope: string };
  /** The scope that made the field required. */
  required?: string;
  /** The scope that set canEdit: false. */
  locked?: string;
}

/** The policy a submission meets: merged defaults and rules of the whole chain. */
export interface EffectivePolicy {
  defaults: Record<string, { value: DefaultValue; scope: string }>;
  rules: Record<string, EffectiveRule>;
  container: EffectiveContainerPolicy;
}

const SCOPE = /^(cluster|department:[^\s/:]+|project:[^\s/:]+)$/;

/** True for `cluster`, `department:<d>` or `project:<p>`. */
export function isScope(s: string): boolean {
  return SCOPE.test(s);
}

function policyError(message: string, field?: string, context?: Record<string, string>): TesseraError {
  return tesseraError('TESSERA_E_POLICY_VIOLATION', message, { field, context });
}

/** Merges the chain cluster -> department -> project; a lower scope only tightens. */
export function effectivePolicy(
  cluster: ScopedPolicy | undefined,
  department: ScopedPolicy | undefined,
  project: ScopedPolicy | undefined,
): EffectivePolicy {
  const out: EffectivePolicy = { defaults: {}, rules: {}, container: {} };
  for (const level of [cluster, department, project]) {
    if (level !== undefined) mergeInto(out, level);
  }
  return out;
}

function mergeInto(out: EffectivePolicy, { scope, policy }: ScopedPolicy): void {
  mergeContainer(out.container, scope, policy.container);
  for (const [field, value] of Object.entries(policy.defaults)) {
    // A locked field keeps the default of the scope that locked it.
    const lockedBy = out.rules[quantityFormOf(field) ?? field]?.locked;
    if (lockedBy !== undefined && out.defaults[field] !== undefined) continue;
    // A lower scope's default replaces any higher default of the same exclusive group.
    for (const group of EXCLUSIVE_GROUPS) {
      if (group.includes(field)) for (const other of group) delete out.defaults[other];
    }
    out.defaults[field] = { value, scope };
  }
  for (const [field, rule] of Object.entries(policy.rules)) {
    const cur: EffectiveRule = { ...out.rules[field] };
    const min = boundOf(field, rule.min, scope);
    if (min !== undefined && (cur.min === undefined || min.value > cur.min.value)) cur.min = min;
    const max = boundOf(field, rule.max, scope);
    if (max !== undefined && (cur.max === undefined || max.value < cur.max.value)) cur.max = max;
    if (rule.options !== undefined) {
      const normalised = normaliseAll(field, rule.options);
      if (cur.options === undefined) cur.options = { values: [...rule.options], normalised, scope };
      else {
        const keep = cur.options.normalised
          .map((n, i) => [n, i] as const)
          .filter(([n]) => normalised.includes(n));
        const prev = cur.options;
        cur.options = {
          values: keep.map(([, i]) => prev.values[i] ?? ''),
          normalised: keep.map(([n]) => n),
          scope,
        };
      }
    }
    if (rule.required === true && cur.required === undefined) cur.required = scope;
    if (rule.canEdit === false && cur.locked === undefined) cur.locked = scope;
    out.rules[field] = cur;
  }
}

/** Refuses `child` (about to be written at `scope`) where it would loosen `parent`, the chain above it. */
export function checkTightens(parent: EffectivePolicy, child: Policy, scope: string): Result<void> {
  const loosen = (field: string, what: string, by: string) =>
    err(
      policyError(
        `policy ${scope}: ${what} would loosen ${field} as set by ${by}; a lower scope may only tighten`,
        field,
        { scope, by },
      ),
    );
  const container = containerLoosens(parent.container, child.container, scope);
  if (container !== undefined) return loosen(container.field, container.what, container.by);
  for (const [field, rule] of Object.entries(child.rules)) {
    const p = parent.rules[field];
    if (p === undefined) continue;
    const min = boundOf(field, rule.min, scope);
    if (min !== undefined && p.min !== undefined && min.value < p.min.value)
      return loosen(field, `rules.${field}.min ${rule.min} is below min ${p.min.raw}, so it`, p.min.scope);
    const max = boundOf(field, rule.max, scope);
    if (max !== undefined && p.max !== undefined && max.value > p.max.value)
      return loosen(field, `rules.${field}.max ${rule.max} is above max ${p.max.raw}, so it`, p.max.scope);
    if (rule.options !== undefined && p.options !== undefined) {
      const allowed = p.options.normalised;
      const mine = normaliseAll(field, rule.options);
      const extra = rule.options.find((_, i) => !allowed.includes(mine[i] ?? ''));
      if (extra !== undefined)
        return loosen(
          field,
          `rules.${field}.options adds ${JSON.stringify(extra)} (not in ${JSON.stringify(p.options.values)}), so it`,
          p.options.scope,
        );
    }
    if (rule.required === false && p.required !== undefined)
      return loosen(field, `rules.${field}.required false`, p.required);
    if (rule.canEdit === true && p.locked !== undefined)
      return loosen(field, `rules.${field}.canEdit true`, p.locked);
  }
  for (const [field, value] of Object.entries(child.defaults)) {
    const locked = parent.rules[quantityFormOf(field) ?? field]?.locked;
    const pd = parent.defaults[field];
    if (locked !== undefined && JSON.stringify(pd?.value) !== JSON.stringify(value))
      return loosen(
        field,
        `defaults.${field} ${JSON.stringify(value)} changes a field with canEdit false, so it`,
        locked,
      );
  }
  // The child's own defaults must meet the merged rules, or every submission relying on them fails.
  const after = structuredClone(parent);
  mergeInto(after, { scope, policy: child });
  const defaults: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(child.defaults)) setPath(defaults, field, value);
  const bad =
    checkRules(defaults, after, defaults, true) ?? containerDefaultsProblem(child.defaults, after.container);
  return bad === undefined
    ? ok(undefined)
    : err({ ...bad, message: `policy ${scope}: defaults: ${bad.message}` });
}

/** Fills `effective`'s defaults into a raw submission where the user set nothing, then checks its rules. */
export function applyPolicy(input: unknown, effective: EffectivePolicy): Result<unknown> {
  if (!isRecord(input)) return ok(input);
  const out = structuredClone(input);
  // Fields that belong to an image last, once a default image may have been filled in.
  const defaults = Object.entries(effective.defaults).sort(
    ([a], [b]) => Number(IMAGE_ONLY.includes(a)) - Number(IMAGE_ONLY.includes(b)),
  );
  for (const [field, { value }] of defaults) {
    const group = EXCLUSIVE_GROUPS.find((g) => g.includes(field)) ?? [field];
    if (group.some((f) => getPath(input, f) !== undefined)) continue;
    if (field.includes('Limit') && !isFractional(out)) continue;
    if (IMAGE_ONLY.includes(field) && getPath(out, 'image') === undefined) continue;
    setPath(out, field, Array.isArray(value) ? [...value] : value);
  }
  const bad = checkRules(out, effective, input, false);
  return bad === undefined ? ok(out) : err(bad);
}

/** Fields that mean something only with an image: a default never gives them to a workload without one. */
const IMAGE_ONLY: readonly string[] = ['imagePullPolicy', 'imagePullSecret'];

/** A limit default belongs only to a fractional request; whole GPUs and CPU-only pods take none. */
function isFractional(spec: Record<string, unknown>): boolean {
  return ['resources.gpuFraction', 'resources.gpuMemory', 'resources.gpuMemoryMiB'].some(
    (f) => getPath(spec, f) !== undefined,
  );
}

/** The first rule `spec` breaks, or undefined. `userInput` is what the user wrote (for canEdit). */
function checkRules(
  spec: unknown,
  effective: EffectivePolicy,
  userInput: unknown,
  onlyPresent: boolean,
): TesseraError | undefined {
  for (const [field, rule] of Object.entries(effective.rules)) {
    const value = readField(spec, field);
    const violation = (ruleName: string, limit: string, scope: string, why: string) =>
      policyError(`${field}: ${why} (rule ${ruleName} ${limit} set by policy ${scope})`, field, {
        rule: ruleName,
        limit,
        scope,
      });
    if (value === undefined) {
      if (rule.required !== undefined && !onlyPresent)
        return violation('required', 'true', rule.required, 'required but not set and no default fills it');
      continue;
    }
    if (rule.locked !== undefined && !onlyPresent && readField(userInput, field) !== undefined) {
      const def = effective.defaults[field]?.value;
      const given = getPath(userInput, field);
      if (JSON.stringify(given) !== JSON.stringify(def))
        return violation(
          'canEdit',
          'false',
          rule.locked,
          `may not be set${def === undefined ? '' : ` to anything but the default ${JSON.stringify(def)}`}, got ${JSON.stringify(given)}`,
        );
    }
    if (value === null) continue;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item === 'number' && rule.min !== undefined && item < rule.min.value)
        return violation(
          'min',
          String(rule.min.raw),
          rule.min.scope,
          `${shown(field, spec)} is below the minimum`,
        );
      if (typeof item === 'number' && rule.max !== undefined && item > rule.max.value)
        return violation(
          'max',
          String(rule.max.raw),
          rule.max.scope,
          `${shown(field, spec)} is above the maximum`,
        );
      const opts = rule.options;
      if (
        opts !== undefined &&
        (typeof item === 'string' || typeof item === 'number') &&
        !opts.normalised.includes(item)
      )
        return violation(
          'options',
          JSON.stringify(opts.values),
          opts.scope,
          `${JSON.stringify(isQuantityField(field) ? (getPath(spec, field) ?? item) : item)} is not one of the allowed options`,
        );
    }
  }
  return undefined;
}

/** The value as the user wrote it (either form of a quantity). */
function shown(field: string, spec: unknown): string {
  return JSON.stringify(getPath(spec, field) ?? readField(spec, field));
}
