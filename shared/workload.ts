/**
 * The workload spec: its types, the per-type defaults (ARCHITECTURE section 2) and the one
 * validator that turns an untrusted body (API, CLI, scenario file) into a normalised `WorkloadSpec`
 * in milli-GPU, milli-cores, MiB and ms. Nothing past this file sees a quantity string.
 */
import { z } from 'zod';
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import { MILLI_PER_GPU, parseCpuMillis, parseDurationMs, parseGpu, parseMemoryMiB } from './resources.ts';

/** What kind of work a workload is; decides its defaults. */
export type WorkloadType = 'workspace' | 'training' | 'distributed' | 'inference';

/** A named priority; the number behind it orders work inside a project. */
export type PriorityClass = 'train' | 'build-preemptible' | 'build' | 'inference';

/** Every workload type. */
export const WORKLOAD_TYPES = [
  'workspace',
  'training',
  'distributed',
  'inference',
] as const satisfies readonly WorkloadType[];

/** Every priority class, lowest priority first. */
export const PRIORITY_CLASSES = [
  'train',
  'build-preemptible',
  'build',
  'inference',
] as const satisfies readonly PriorityClass[];

/** The priority value of each class. */
export const PRIORITY_VALUES: Readonly<Record<PriorityClass, number>> = {
  train: 50,
  'build-preemptible': 75,
  build: 100,
  inference: 125,
};

/** Priorities at or above this are non-preemptible and may only use their project's deserved quota. */
export const NON_PREEMPTIBLE_PRIORITY = 100;

/** True when work at `priority` may be preempted (and so may run over quota). */
export function isPreemptible(priority: number): boolean {
  return priority < NON_PREEMPTIBLE_PRIORITY;
}

/** Per-type defaults: ARCHITECTURE section 2's table. `elastic` types may run minReplicas..maxReplicas pods. */
export const WORKLOAD_TYPE_DEFAULTS: Readonly<
  Record<WorkloadType, { priorityClass: PriorityClass; replicas: number; elastic: boolean }>
> = {
  workspace: { priorityClass: 'build', replicas: 1, elastic: false },
  training: { priorityClass: 'train', replicas: 1, elastic: false },
  distributed: { priorityClass: 'train', replicas: 2, elastic: true },
  inference: { priorityClass: 'inference', replicas: 1, elastic: true },
};

/**
 * The GPU part of a pod's request. A fractional request (fraction or memory) may carry one limit
 * for dynamic fractions, in either unit: ARCHITECTURE section 7's example pairs `gpuFraction` with
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

/** A validated workload spec with every default applied and every quantity normalised. */
export interface WorkloadSpec {
  name: string;
  project: string;
  type: WorkloadType;
  priorityClass: PriorityClass;
  priority: number;
  preemptible: boolean;
  command: string[];
  env: Record<string, string>;
  /** Pools in order of preference; the scheduler tries them in this order. */
  nodePools: string[];
  /** Allowed node types; empty means any. */
  nodeTypes: string[];
  /** Allowed GPU models; empty means any. */
  gpuModels: string[];
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
  resources: PodResources;
  /** Time a pod runs before it may be preempted; 0 means none. */
  minRuntimeMs: number;
}

/** The number of pods that must be placed together, all or none: minReplicas for every type. */
export function gangSize(spec: Pick<WorkloadSpec, 'minReplicas'>): number {
  return spec.minReplicas;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Kubernetes' rule for environment variable names: a key a container runtime will accept as-is.
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const quantity = z.union([z.string(), z.number()]);
const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);
const nameList = z.array(z.string().min(1));

const ResourcesInput = z.strictObject({
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

const SpecInput = z.strictObject({
  name: z.string().min(1).max(63).regex(DNS_LABEL),
  project: z.string().min(1),
  type: z.enum(WORKLOAD_TYPES),
  priorityClass: z.enum(PRIORITY_CLASSES).optional(),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()).optional(),
  nodePools: nameList.min(1).optional(),
  nodeTypes: nameList.optional(),
  gpuModels: nameList.optional(),
  replicas: positiveInt.optional(),
  minReplicas: positiveInt.optional(),
  maxReplicas: positiveInt.optional(),
  resources: ResourcesInput.optional(),
  minRuntime: quantity.optional(),
  minRuntimeMs: nonNegativeInt.optional(),
});

type SpecIn = z.infer<typeof SpecInput>;
type ResourcesIn = z.infer<typeof ResourcesInput>;

const REPLICAS_HELP = 'a whole number >= 1';
const GPU_FRACTION_HELP = "a share of one GPU strictly between 0 and 1: 0.5, '0.5' or '500m'";
const MEMORY_HELP = "a number of MiB (20480) or a quantity such as '20GiB', '512Mi', '16GB'";

/** What each field accepts, keyed by dotted path with array indices as '*'; used in every message. */
const FIELD_HELP: Readonly<Record<string, string>> = {
  '': 'a JSON object with name, project, type and command',
  name: "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. 'resnet-50')",
  project: 'the name of the project the workload belongs to (a non-empty string)',
  type: `one of ${WORKLOAD_TYPES.join(', ')}`,
  priorityClass: `one of ${PRIORITY_CLASSES.join(', ')}`,
  command: 'a non-empty array of strings, program first (e.g. ["python", "train.py"])',
  'command.0': 'the program to run, a non-empty string',
  'command.*': 'a string',
  env: 'an object mapping variable names to string values',
  'env.*': 'a string value',
  nodePools: 'a non-empty list of node pool names in order of preference (default ["default"])',
  'nodePools.*': 'a non-empty node pool name',
  nodeTypes: 'a list of node types the workload may run on (default: any)',
  'nodeTypes.*': 'a non-empty node type',
  gpuModels: 'a list of GPU models the workload may run on (default: any)',
  'gpuModels.*': 'a non-empty GPU model name',
  replicas: REPLICAS_HELP,
  minReplicas: REPLICAS_HELP,
  maxReplicas: REPLICAS_HELP,
  resources:
    'an object with at most one of gpuDevices, gpuFraction, gpuMemory (none = CPU-only), an optional limit, cpu and memory',
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
  minRuntime: "a duration such as '250ms', '40s', '5m', '1h30m', or a whole number of milliseconds",
  minRuntimeMs: 'a whole number of milliseconds >= 0',
};

/** Extra advice for fields people reach for that the spec spells differently. */
const UNKNOWN_FIELD_HINTS: Readonly<Record<string, string>> = {
  preemptible:
    'preemptible follows the priority class: set priorityClass (train and build-preemptible are preemptible)',
  priority: 'set priorityClass instead; the number follows from it',
  gpu: 'use gpuDevices (whole GPUs), gpuFraction or gpuMemory',
  gpus: 'use gpuDevices (whole GPUs), gpuFraction or gpuMemory',
  pools: 'use nodePools',
  nodePool: 'use nodePools, a list',
};

function helpFor(path: string): string | undefined {
  // env keys are user-chosen names, so any `env.X` falls back to the help for an env value.
  return (
    FIELD_HELP[path] ??
    FIELD_HELP[path.replace(/\.\d+(?=\.|$)/g, '.*')] ??
    FIELD_HELP[path.replace(/^env\..*$/, 'env.*')]
  );
}

/** zod's type names, as a sentence says them. */
const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  int: 'a whole number',
  array: 'an array',
  object: 'an object',
  record: 'an object',
  string: 'a string',
  number: 'a number',
};

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

/** An INVALID_SPEC error for `field`, ending with what the field accepts unless `help` is null. */
function specError(
  field: string,
  why: string,
  help: string | null | undefined = helpFor(field),
): TesseraError {
  const where = field === '' ? 'workload spec' : field;
  const accepted = help === undefined || help === null ? '' : `; accepted: ${help}`;
  return tesseraError('TESSERA_E_INVALID_SPEC', `${where}: ${why}${accepted}`, {
    field: field === '' ? undefined : field,
  });
}

/** Turns zod's first issue into one message that names the field, says why and what is accepted. */
function fromIssue(issue: z.core.$ZodIssue): TesseraError {
  const path = issue.path.map(String).join('.');
  const missing = !('input' in issue) || issue.input === undefined;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? '';
      const field = path === '' ? key : `${path}.${key}`;
      const shape = path === 'resources' ? ResourcesInput.shape : SpecInput.shape;
      const hint = UNKNOWN_FIELD_HINTS[key];
      const why = `unknown field${hint === undefined ? '' : ` (${hint})`}; fields accepted here: ${Object.keys(shape).join(', ')}`;
      return tesseraError('TESSERA_E_INVALID_SPEC', `${field}: ${why}`, { field });
    }
    case 'invalid_type':
      if (missing) return specError(path, 'required');
      return specError(
        path,
        `expected ${EXPECTED_NAMES[issue.expected] ?? `a ${issue.expected}`}, got ${describeValue(issue.input)}`,
      );
    case 'invalid_union':
    case 'invalid_value':
      return specError(path, missing ? 'required' : `got ${describeValue(issue.input)}`);
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return specError(path, 'must not be empty');
      if (issue.origin === 'array')
        return specError(path, `must have at least ${min} item${min === 1 ? '' : 's'}`);
      return specError(
        path,
        `must be ${issue.inclusive === false ? '>' : '>='} ${min}, got ${describeValue(issue.input)}`,
      );
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return specError(path, `longer than ${max} characters`);
      return specError(path, `must be <= ${max}, got ${describeValue(issue.input)}`);
    }
    case 'invalid_format':
      return specError(path, `${describeValue(issue.input)} is not in the accepted form`);
    default:
      return specError(path, issue.message);
  }
}

/** Validates and normalises an untrusted workload spec; errors name the field as a dotted path. */
export function parseWorkloadSpec(input: unknown): Result<WorkloadSpec> {
  const parsed = SpecInput.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return err(first === undefined ? specError('', 'invalid') : fromIssue(first));
  }
  const s = parsed.data;

  const resources = normaliseResources(s.resources ?? {});
  if (!resources.ok) return resources;

  const replicas = normaliseReplicas(s);
  if (!replicas.ok) return replicas;

  const lists = normaliseLists(s);
  if (!lists.ok) return lists;

  const minRuntimeMs = pickAlias(s.minRuntime, s.minRuntimeMs, 'minRuntime', 'minRuntimeMs', (v, f) =>
    parseDurationMs(v, f),
  );
  if (!minRuntimeMs.ok) return minRuntimeMs;

  const priorityClass = s.priorityClass ?? WORKLOAD_TYPE_DEFAULTS[s.type].priorityClass;
  const priority = PRIORITY_VALUES[priorityClass];
  return ok({
    name: s.name,
    project: s.project,
    type: s.type,
    priorityClass,
    priority,
    preemptible: isPreemptible(priority),
    command: [...s.command],
    env: lists.value.env,
    nodePools: lists.value.nodePools,
    nodeTypes: lists.value.nodeTypes,
    gpuModels: lists.value.gpuModels,
    ...replicas.value,
    resources: resources.value,
    minRuntimeMs: minRuntimeMs.value ?? 0,
  });
}

/**
 * Resolves a field that has a quantity form (`memory: '8GiB'`) and a unit-named form
 * (`memoryMiB: 8192`): at most one may be given. The unit-named form is already a validated integer.
 */
function pickAlias(
  quantityForm: string | number | undefined,
  unitForm: number | undefined,
  quantityField: string,
  unitField: string,
  parse: (v: string | number, field: string) => Result<number>,
): Result<number | undefined> {
  if (quantityForm !== undefined && unitForm !== undefined) {
    return err(specError(unitField, `give either ${quantityField} or ${unitField}, not both`));
  }
  if (quantityForm !== undefined) return parse(quantityForm, quantityField);
  return ok(unitForm);
}

function normaliseResources(r: ResourcesIn): Result<PodResources> {
  const cpuMillis = pickAlias(r.cpu, r.cpuMillis, 'resources.cpu', 'resources.cpuMillis', parseCpuMillis);
  if (!cpuMillis.ok) return cpuMillis;
  const memoryMiB = pickAlias(
    r.memory,
    r.memoryMiB,
    'resources.memory',
    'resources.memoryMiB',
    parseMemoryMiB,
  );
  if (!memoryMiB.ok) return memoryMiB;
  const gpuMemory = pickAlias(
    r.gpuMemory,
    r.gpuMemoryMiB,
    'resources.gpuMemory',
    'resources.gpuMemoryMiB',
    parseMemoryMiB,
  );
  if (!gpuMemory.ok) return gpuMemory;
  const gpuMemoryLimit = pickAlias(
    r.gpuMemoryLimit,
    r.gpuMemoryLimitMiB,
    'resources.gpuMemoryLimit',
    'resources.gpuMemoryLimitMiB',
    parseMemoryMiB,
  );
  if (!gpuMemoryLimit.ok) return gpuMemoryLimit;

  const gpu = normaliseGpu(r, gpuMemory.value, gpuMemoryLimit.value);
  if (!gpu.ok) return gpu;
  return ok({ gpu: gpu.value, cpuMillis: cpuMillis.value ?? 0, memoryMiB: memoryMiB.value ?? 0 });
}

function normaliseGpu(
  r: ResourcesIn,
  gpuMemoryMiB: number | undefined,
  gpuMemoryLimitMiB: number | undefined,
): Result<GpuRequest> {
  const memoryField = r.gpuMemoryMiB !== undefined ? 'resources.gpuMemoryMiB' : 'resources.gpuMemory';
  const memoryLimitField =
    r.gpuMemoryLimitMiB !== undefined ? 'resources.gpuMemoryLimitMiB' : 'resources.gpuMemoryLimit';
  const given: [string, boolean][] = [
    ['resources.gpuDevices', r.gpuDevices !== undefined],
    ['resources.gpuFraction', r.gpuFraction !== undefined],
    [memoryField, gpuMemoryMiB !== undefined],
  ];
  const requests = given.filter(([, present]) => present).map(([field]) => field);
  if (requests.length > 1) {
    const [, second] = requests;
    return err(
      specError(
        second ?? '',
        `give at most one of gpuDevices, gpuFraction, gpuMemory per pod; got ${requests.map((f) => f.replace('resources.', '')).join(' and ')}`,
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
    return err(specError(memoryLimitField, 'give at most one of gpuFractionLimit and gpuMemoryLimit'));
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

function normaliseReplicas(
  s: SpecIn,
): Result<{ replicas: number; minReplicas: number; maxReplicas: number }> {
  const defaults = WORKLOAD_TYPE_DEFAULTS[s.type];
  if (!defaults.elastic) {
    for (const field of ['replicas', 'minReplicas', 'maxReplicas'] as const) {
      const v = s[field];
      if (v !== undefined && v !== 1) {
        return err(
          specError(
            field,
            `a ${s.type} workload runs exactly 1 pod, got ${v}; use type distributed or inference for several pods`,
            null,
          ),
        );
      }
    }
    return ok({ replicas: 1, minReplicas: 1, maxReplicas: 1 });
  }
  // An unset replica count takes the type's default, pulled into any range the user did give,
  // so `minReplicas: 4` alone means 4 pods rather than an error about a default they never wrote.
  let replicas = s.replicas ?? defaults.replicas;
  if (s.replicas === undefined) {
    if (s.minReplicas !== undefined) replicas = Math.max(replicas, s.minReplicas);
    if (s.maxReplicas !== undefined) replicas = Math.min(replicas, s.maxReplicas);
  }
  const minReplicas = s.minReplicas ?? replicas;
  const maxReplicas = s.maxReplicas ?? replicas;
  // Unset bounds default to replicas, so compare the two bounds directly only when both were given;
  // otherwise the message names replicas, the value the user actually wrote.
  if (s.minReplicas !== undefined && s.maxReplicas !== undefined && minReplicas > maxReplicas) {
    return err(
      specError('minReplicas', `minReplicas (${minReplicas}) must be <= maxReplicas (${maxReplicas})`, null),
    );
  }
  if (minReplicas > replicas) {
    return err(
      specError('minReplicas', `minReplicas (${minReplicas}) must be <= replicas (${replicas})`, null),
    );
  }
  if (replicas > maxReplicas) {
    return err(
      specError('maxReplicas', `maxReplicas (${maxReplicas}) must be >= replicas (${replicas})`, null),
    );
  }
  return ok({ replicas, minReplicas, maxReplicas });
}

function normaliseLists(
  s: SpecIn,
): Result<{ env: Record<string, string>; nodePools: string[]; nodeTypes: string[]; gpuModels: string[] }> {
  if (s.command[0] === '') return err(specError('command.0', 'the program must not be empty'));
  const env = s.env ?? {};
  for (const key of Object.keys(env)) {
    if (!ENV_NAME.test(key)) {
      return err(
        specError(
          `env.${key}`,
          `invalid variable name ${JSON.stringify(key)}`,
          "letters, digits, '_', '-' and '.', not starting with a digit",
        ),
      );
    }
  }
  for (const field of ['nodePools', 'nodeTypes', 'gpuModels'] as const) {
    const list = s[field] ?? [];
    const seen = new Set<string>();
    for (const [i, name] of list.entries()) {
      if (seen.has(name)) {
        return err(
          specError(`${field}.${i}`, `${JSON.stringify(name)} is listed twice`, 'each name at most once'),
        );
      }
      seen.add(name);
    }
  }
  return ok({
    env: { ...env },
    nodePools: s.nodePools === undefined ? ['default'] : [...s.nodePools],
    nodeTypes: [...(s.nodeTypes ?? [])],
    gpuModels: [...(s.gpuModels ?? [])],
  });
}
