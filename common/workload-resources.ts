/**
 * The per-pod resources of a workload spec: the GPU request types, the `resources` input schema,
 * what each of its fields accepts, and the normaliser that turns its several spellings (quantity or
 * unit-named, fraction or memory, with or without a limit) into one `PodResources`.
 *
 * Errors are built by the caller's `SpecFieldError`, so a resources message has the same shape and
 * the same "accepted:" help as every other spec message; `workload.ts` owns that wording and merges
 * `RESOURCES_FIELD_HELP` into its table. Passing it in keeps this file free of an import cycle.
 */
import { z } from 'zod';
import { err, ok, type Result, type TesseraError } from './errors.ts';
import { MILLI_PER_GPU, parseCpuMillis, parseGpu, parseMemoryMiB } from './resources.ts';

/**
 * The GPU part of a pod's request. A fractional request (fraction or memory) may carry one limit
 * for dynamic fractions, in either unit: the example in docs/architecture.md §7 pairs `gpuFraction` with
 * `gpuMemoryLimitMiB`. A limit in the other unit than the request is compared with the request only
 * once a GPU (and so its memory) is chosen; placement counts only the request either way.
 */
export type GpuRequest =
  | { kind: 'none' }
  | { kind: 'devices'; count: number }
  | { kind: 'fraction'; milli: number; limitMilli?: number; limitMiB?: number }
  | { kind: 'memory'; memoryMiB: number; limitMiB?: number; limitMilli?: number };

/** What each pod of a workload requests. */
export interface PodResources {
  gpu: GpuRequest;
  cpuMillis: number;
  memoryMiB: number;
}

/** An INVALID_SPEC error for `field` saying `why`, with what the field accepts. */
export type SpecFieldError = (field: string, why: string) => TesseraError;

/** A quantity as written: a string with a unit or a bare number. */
export const quantity = z.union([z.string(), z.number()]);
/** A whole number >= 1. */
export const positiveInt = z.number().int().min(1);
/** A whole number >= 0. */
export const nonNegativeInt = z.number().int().min(0);

/** The `resources` object of a spec, before normalisation. */
export const ResourcesInput = z.strictObject({
  gpuDevices: positiveInt.optional(),
  gpuFraction: quantity.optional(),
  gpuFractionLimit: quantity.optional(),
  gpuMemory: quantity.optional(),
  gpuMemoryMiB: positiveInt.optional(),
  gpuMemoryLimit: quantity.optional(),
  gpuMemoryLimitMiB: positiveInt.optional(),
  cpu: quantity.optional(),
  cpuMillis: nonNegativeInt.optional(),
  memory: quantity.optional(),
  memoryMiB: nonNegativeInt.optional(),
});

type ResourcesIn = z.infer<typeof ResourcesInput>;

/** The GPU request fields, of which a pod gives at most one (none = CPU-only). */
export const GPU_REQUEST_FIELDS = ['gpuDevices', 'gpuFraction', 'gpuMemory'] as const;
/** The GPU limit fields, of which a pod gives at most one. */
export const GPU_LIMIT_FIELDS = ['gpuFractionLimit', 'gpuMemoryLimit'] as const;
/**
 * The `resources` fields of which a spec may set at most one, by their quantity form (a unit-named
 * form such as `gpuMemoryMiB` counts as its quantity form). The normaliser below and the policy
 * defaults (`policy-fields.ts`) both read this.
 */
export const EXCLUSIVE_RESOURCE_FIELDS: readonly (readonly string[])[] = [
  GPU_REQUEST_FIELDS,
  GPU_LIMIT_FIELDS,
];

const GPU_FRACTION_HELP = "a share of one GPU strictly between 0 and 1: 0.5, '0.5' or '500m'";
const MEMORY_HELP = "a number of MiB (20480) or a quantity such as '20GiB', '512Mi', '16GB'";

/** What `resources` and each of its fields accept, keyed by dotted path. */
export const RESOURCES_FIELD_HELP: Readonly<Record<string, string>> = {
  resources: `an object with at most one of ${GPU_REQUEST_FIELDS.join(', ')} (none = CPU-only), an optional limit, cpu and memory`,
  'resources.gpuDevices': 'a whole number of GPUs >= 1, all on one node',
  'resources.gpuFraction': GPU_FRACTION_HELP,
  'resources.gpuFractionLimit': "a share of one GPU > 0 and <= 1, at least the request: 0.8, '0.8' or '800m'",
  'resources.gpuMemory': `GPU memory > 0: ${MEMORY_HELP}`,
  'resources.gpuMemoryMiB': 'a whole number of MiB of GPU memory >= 1',
  'resources.gpuMemoryLimit': `GPU memory at least the request: ${MEMORY_HELP}`,
  'resources.gpuMemoryLimitMiB': 'a whole number of MiB of GPU memory, at least the request',
  'resources.cpu': "CPU cores per pod: 2, '2', '0.5' or '500m'",
  'resources.cpuMillis': 'a whole number of milli-cores per pod >= 0',
  'resources.memory': `memory per pod: ${MEMORY_HELP}`,
  'resources.memoryMiB': 'a whole number of MiB per pod >= 0',
};

/**
 * Resolves a field that has a quantity form (`memory: '8GiB'`) and a unit-named form
 * (`memoryMiB: 8192`): at most one may be given. The unit-named form is already a validated integer.
 */
export function pickAlias(
  quantityForm: string | number | undefined,
  unitForm: number | undefined,
  quantityField: string,
  unitField: string,
  parse: (v: string | number, field: string) => Result<number>,
  specError: SpecFieldError,
): Result<number | undefined> {
  if (quantityForm !== undefined && unitForm !== undefined) {
    return err(specError(unitField, `give either ${quantityField} or ${unitField}, not both`));
  }
  if (quantityForm !== undefined) return parse(quantityForm, quantityField);
  return ok(unitForm);
}

/** Validates and normalises a spec's `resources` (absent = `{}`: CPU-only, no CPU or memory asked). */
export function normaliseResources(r: ResourcesIn, specError: SpecFieldError): Result<PodResources> {
  // `field` is the quantity form's path; its MiB form is the same path with `MiB` appended.
  const pickMiB = (quantityForm: string | number | undefined, mib: number | undefined, field: string) =>
    pickAlias(quantityForm, mib, field, `${field}MiB`, parseMemoryMiB, specError);

  const cpuMillis = pickAlias(
    r.cpu,
    r.cpuMillis,
    'resources.cpu',
    'resources.cpuMillis',
    parseCpuMillis,
    specError,
  );
  if (!cpuMillis.ok) return cpuMillis;
  const memoryMiB = pickMiB(r.memory, r.memoryMiB, 'resources.memory');
  if (!memoryMiB.ok) return memoryMiB;
  const gpuMemory = pickMiB(r.gpuMemory, r.gpuMemoryMiB, 'resources.gpuMemory');
  if (!gpuMemory.ok) return gpuMemory;
  const gpuMemoryLimit = pickMiB(r.gpuMemoryLimit, r.gpuMemoryLimitMiB, 'resources.gpuMemoryLimit');
  if (!gpuMemoryLimit.ok) return gpuMemoryLimit;

  const gpu = normaliseGpu(r, gpuMemory.value, gpuMemoryLimit.value, specError);
  if (!gpu.ok) return gpu;
  return ok({ gpu: gpu.value, cpuMillis: cpuMillis.value ?? 0, memoryMiB: memoryMiB.value ?? 0 });
}

/** The GPU request of `r`, given its GPU memory and memory limit already resolved to MiB. */
function normaliseGpu(
  r: ResourcesIn,
  gpuMemoryMiB: number | undefined,
  gpuMemoryLimitMiB: number | undefined,
  specError: SpecFieldError,
): Result<GpuRequest> {
  const memoryField = r.gpuMemoryMiB !== undefined ? 'resources.gpuMemoryMiB' : 'resources.gpuMemory';
  const memoryLimitField =
    r.gpuMemoryLimitMiB !== undefined ? 'resources.gpuMemoryLimitMiB' : 'resources.gpuMemoryLimit';
  const given: Record<(typeof GPU_REQUEST_FIELDS)[number], boolean> = {
    gpuDevices: r.gpuDevices !== undefined,
    gpuFraction: r.gpuFraction !== undefined,
    gpuMemory: gpuMemoryMiB !== undefined,
  };
  const requests = GPU_REQUEST_FIELDS.filter((f) => given[f]).map((f) =>
    f === 'gpuMemory' ? memoryField : `resources.${f}`,
  );
  if (requests.length > 1) {
    const [, second] = requests;
    return err(
      specError(
        second ?? '',
        `give at most one of ${GPU_REQUEST_FIELDS.join(', ')} per pod; got ${requests.map((f) => f.replace('resources.', '')).join(' and ')}`,
      ),
    );
  }

  let limitMilli: number | undefined;
  if (r.gpuFractionLimit !== undefined) {
    const parsed = parseGpu(r.gpuFractionLimit, 'resources.gpuFractionLimit');
    if (!parsed.ok) return parsed;
    limitMilli = parsed.value;
    if (limitMilli <= 0 || limitMilli > MILLI_PER_GPU) {
      return err(
        specError('resources.gpuFractionLimit', `must be > 0 and <= 1, got ${String(r.gpuFractionLimit)}`),
      );
    }
  }
  if (limitMilli !== undefined && gpuMemoryLimitMiB !== undefined) {
    return err(specError(memoryLimitField, `give at most one of ${GPU_LIMIT_FIELDS.join(' and ')}`));
  }
  const limitField = limitMilli !== undefined ? 'resources.gpuFractionLimit' : memoryLimitField;
  const hasLimit = limitMilli !== undefined || gpuMemoryLimitMiB !== undefined;

  if (r.gpuDevices !== undefined || requests.length === 0) {
    if (hasLimit) {
      return err(
        specError(
          limitField,
          'a limit applies only to a fractional request (gpuFraction or gpuMemory); whole GPUs and CPU-only pods take none',
        ),
      );
    }
    return ok(r.gpuDevices !== undefined ? { kind: 'devices', count: r.gpuDevices } : { kind: 'none' });
  }

  if (r.gpuFraction !== undefined) {
    const parsed = parseGpu(r.gpuFraction, 'resources.gpuFraction');
    if (!parsed.ok) return parsed;
    const milli = parsed.value;
    if (milli <= 0 || milli >= MILLI_PER_GPU) {
      const wholeHint = milli >= MILLI_PER_GPU ? ' (for whole GPUs use gpuDevices)' : '';
      return err(
        specError(
          'resources.gpuFraction',
          `must be strictly between 0 and 1${wholeHint}, got ${String(r.gpuFraction)}`,
        ),
      );
    }
    if (limitMilli !== undefined && limitMilli < milli) {
      return err(
        specError(
          'resources.gpuFractionLimit',
          `must be at least the request gpuFraction (${String(r.gpuFraction)}), got ${String(r.gpuFractionLimit)}`,
        ),
      );
    }
    const req: GpuRequest = { kind: 'fraction', milli };
    if (limitMilli !== undefined) req.limitMilli = limitMilli;
    if (gpuMemoryLimitMiB !== undefined) req.limitMiB = gpuMemoryLimitMiB;
    return ok(req);
  }

  const memoryMiB = gpuMemoryMiB ?? 0;
  if (memoryMiB <= 0) return err(specError(memoryField, 'must be more than 0 MiB'));
  if (gpuMemoryLimitMiB !== undefined && gpuMemoryLimitMiB < memoryMiB) {
    return err(
      specError(
        memoryLimitField,
        `must be at least the request (${memoryMiB} MiB), got ${gpuMemoryLimitMiB} MiB`,
      ),
    );
  }
  const req: GpuRequest = { kind: 'memory', memoryMiB };
  if (gpuMemoryLimitMiB !== undefined) req.limitMiB = gpuMemoryLimitMiB;
  if (limitMilli !== undefined) req.limitMilli = limitMilli;
  return ok(req);
}
