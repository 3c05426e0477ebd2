/**
 * The spec fields a policy may name, and how to read one from a raw (unparsed) workload input.
 * Quantities are normalised through the spec validator's own parsers (`common/resources.ts`, as
 * `workload-resources.ts` uses them), so `'20GiB'` and `20480` compare equal and nothing here
 * re-implements parsing. A field with a quantity form and a unit-named form (`resources.memory` /
 * `resources.memoryMiB`) is one policy field, named by its quantity form; reading it accepts either.
 */
import type { Result } from './errors.ts';
import { parseCpuMillis, parseDurationMs, parseGpu, parseMemoryMiB } from './resources.ts';
import { EXCLUSIVE_RESOURCE_FIELDS, ResourcesInput } from './workload-resources.ts';

/** A rule value or option as written: a number, a quantity string or a name. */
export type RuleValue = string | number;

type Parse = (v: string | number, field?: string) => Result<number>;

/** Quantity fields: their parser and the unit-named form that holds an already normalised number. */
const QUANTITIES: Readonly<Record<string, { parse: Parse; unitForm?: string }>> = {
  'resources.gpuFraction': { parse: parseGpu },
  'resources.gpuFractionLimit': { parse: parseGpu },
  'resources.gpuMemory': { parse: parseMemoryMiB, unitForm: 'resources.gpuMemoryMiB' },
  'resources.gpuMemoryLimit': { parse: parseMemoryMiB, unitForm: 'resources.gpuMemoryLimitMiB' },
  'resources.cpu': { parse: parseCpuMillis, unitForm: 'resources.cpuMillis' },
  'resources.memory': { parse: parseMemoryMiB, unitForm: 'resources.memoryMiB' },
  minRuntime: { parse: parseDurationMs, unitForm: 'minRuntimeMs' },
};

/** Top-level spec fields a policy may name (name, project, type and command are the user's own). */
const TOP_FIELDS = [
  'priorityClass',
  'env',
  'nodePools',
  'nodeTypes',
  'gpuModels',
  'replicas',
  'minReplicas',
  'maxReplicas',
  'minRuntime',
  'minRuntimeMs',
  'disconnectPolicy',
  'image',
  'imagePullPolicy',
  'imagePullSecret',
  'workingDir',
  'runAsUser',
  'runAsGroup',
  'restartPolicy',
  'backoffLimit',
] as const;

/** A field's spellings: its quantity form and, where it has one, its unit-named form. */
function spellings(field: string): string[] {
  const unitForm = QUANTITIES[field]?.unitForm;
  return unitForm === undefined ? [field] : [field, unitForm];
}

/**
 * Fields of which a spec may set at most one; a default never fills one when another is set. The
 * spec validator's own groups (`EXCLUSIVE_RESOURCE_FIELDS`) in every spelling, and each quantity
 * with its unit-named form.
 */
export const EXCLUSIVE_GROUPS: readonly (readonly string[])[] = [
  ...EXCLUSIVE_RESOURCE_FIELDS.map((group) => group.flatMap((f) => spellings(`resources.${f}`))),
  ...Object.keys(QUANTITIES)
    .map(spellings)
    .filter((s) => s.length > 1),
];

const UNIT_FORMS = new Map(
  Object.entries(QUANTITIES).flatMap(([f, q]) => (q.unitForm === undefined ? [] : [[q.unitForm, f]])),
);

/** Every field a default may set, in the spec's spelling. */
export function isPolicyField(field: string): boolean {
  if (/^env\.[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(field)) return true;
  if ((TOP_FIELDS as readonly string[]).includes(field)) return true;
  return field.startsWith('resources.') && Object.hasOwn(ResourcesInput.shape, field.slice(10));
}

/** The quantity form a unit-named field belongs to (`resources.memoryMiB` -> `resources.memory`). */
export function quantityFormOf(field: string): string | undefined {
  return UNIT_FORMS.get(field);
}

/** What the fields a policy may name are, for error messages. */
export const POLICY_FIELDS_HELP = `${TOP_FIELDS.join(', ')}, env.NAME, resources.{${Object.keys(ResourcesInput.shape).join(',')}}`;

/** A rule limit or option normalised for comparison: quantities in their unit, anything else as is. */
export function normaliseRuleValue(field: string, v: RuleValue): Result<RuleValue> {
  const q = QUANTITIES[field];
  return q === undefined ? { ok: true, value: v } : q.parse(v, field);
}

/** True when `field` holds a quantity compared after normalising. */
export function isQuantityField(field: string): boolean {
  return QUANTITIES[field] !== undefined;
}

/** The raw value at a dotted `path` of a plain object, or undefined. */
export function getPath(input: unknown, path: string): unknown {
  let cur: unknown = input;
  for (const key of splitPath(path)) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Sets `value` at a dotted `path` of a plain object, creating intermediate objects. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = splitPath(path);
  let cur = target;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (isRecord(next)) cur = next;
    else {
      const made: Record<string, unknown> = {};
      cur[key] = made;
      cur = made;
    }
  }
  cur[keys[keys.length - 1] ?? ''] = value;
}

/** `env.A.B` is the variable `A.B`: only the first dot of an env path separates. */
function splitPath(path: string): string[] {
  if (path.startsWith('env.')) return ['env', path.slice(4)];
  return path.split('.');
}

/** True for a plain JSON object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The value of policy field `field` in a raw input, normalised when it is a quantity (either form);
 * `undefined` when unset, `null` when set but unreadable (the spec validator will say why).
 */
export function readField(input: unknown, field: string): RuleValue | readonly unknown[] | null | undefined {
  const q = QUANTITIES[field];
  const raw = getPath(input, field);
  if (q !== undefined) {
    if (raw === undefined) {
      const unit = q.unitForm === undefined ? undefined : getPath(input, q.unitForm);
      if (unit === undefined) return undefined;
      return typeof unit === 'number' ? unit : null;
    }
    if (typeof raw !== 'string' && typeof raw !== 'number') return null;
    const parsed = q.parse(raw, field);
    return parsed.ok ? parsed.value : null;
  }
  if (raw === undefined) return undefined;
  if (typeof raw === 'string' || typeof raw === 'number') return raw;
  if (Array.isArray(raw)) return raw;
  return null;
}

/** A limit with the value normalised for comparison, as written, and who set it. */
export interface Bound {
  value: number;
  raw: RuleValue;
  scope: string;
}

/** A rule limit as a `Bound` set by `scope`; undefined when absent or not a number. */
export function boundOf(field: string, raw: RuleValue | undefined, scope: string): Bound | undefined {
  if (raw === undefined) return undefined;
  const n = normaliseRuleValue(field, raw);
  return n.ok && typeof n.value === 'number' ? { value: n.value, raw, scope } : undefined;
}

/** Rule options normalised for comparison (unreadable ones kept as written). */
export function normaliseAll(field: string, values: readonly RuleValue[]): RuleValue[] {
  return values.map((v) => {
    const n = normaliseRuleValue(field, v);
    return n.ok ? n.value : v;
  });
}
