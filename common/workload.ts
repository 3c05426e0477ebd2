/**
 * The workload spec: its types, the per-type defaults (docs/architecture.md §2) and the one
 * validator that turns an untrusted body (API, CLI, scenario file) into a normalised `WorkloadSpec`
 * in milli-GPU, milli-cores, MiB and ms. Nothing past this file sees a quantity string.
 * The per-pod `resources` part (GPU request, CPU, memory) is normalised in `workload-resources.ts`,
 * the container part (image, user, mounts) in `workload-container.ts`, and the wording of every
 * message is `workload-messages.ts`'s.
 */
import { z } from 'zod';
import { DISCONNECT_POLICY_HELP, type DisconnectPolicy, KEEP, parseDisconnectPolicy } from './disconnect.ts';
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import { parseDurationMs } from './resources.ts';
import { WIRE_LIMITS } from './wire-limits.ts';
import {
  CONTAINER_FIELD_HELP,
  CONTAINER_INPUT_SHAPE,
  type ContainerFields,
  MountInput,
  normaliseContainer,
} from './workload-container.ts';
import { specMessages } from './workload-messages.ts';
import {
  normalisePorts,
  PORTS_FIELD_HELP,
  PORTS_INPUT_SHAPE,
  type PortFields,
  PortInput,
} from './workload-ports.ts';
import {
  normaliseProbe,
  PROBE_FIELD_HELP,
  PROBE_INPUT_SHAPE,
  type ProbeFields,
  probeFieldsAt,
} from './workload-probe.ts';
import {
  nonNegativeInt,
  normaliseResources,
  type PodResources,
  pickAlias,
  positiveInt,
  quantity,
  RESOURCES_FIELD_HELP,
  ResourcesInput,
} from './workload-resources.ts';
import {
  normaliseRestart,
  RESTART_FIELD_HELP,
  RESTART_INPUT_SHAPE,
  type RestartFields,
} from './workload-restart.ts';
import {
  AutoscalingInput,
  normaliseServing,
  SERVING_FIELD_HELP,
  SERVING_INPUT_SHAPE,
  type ServingFields,
} from './workload-serving.ts';

export type { ContainerFields, PullPolicy, WorkloadMount } from './workload-container.ts';
export type { Framework, PortFields, WorkloadPort } from './workload-ports.ts';
export type { ProbeKind, ReadinessProbe } from './workload-probe.ts';
export type { GpuRequest, PodResources } from './workload-resources.ts';
export type { RestartFields, RestartPolicy } from './workload-restart.ts';
export type { Autoscaling, ServingFields } from './workload-serving.ts';

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

/** Per-type defaults (docs/architecture.md §2, "Workload types"). `elastic` types may run minReplicas..maxReplicas pods. */
export const WORKLOAD_TYPE_DEFAULTS: Readonly<
  Record<WorkloadType, { priorityClass: PriorityClass; replicas: number; elastic: boolean }>
> = {
  workspace: { priorityClass: 'build', replicas: 1, elastic: false },
  training: { priorityClass: 'train', replicas: 1, elastic: false },
  distributed: { priorityClass: 'train', replicas: 2, elastic: true },
  inference: { priorityClass: 'inference', replicas: 1, elastic: true },
};

/** A validated workload spec with every default applied and every quantity normalised. */
export interface WorkloadSpec extends ContainerFields, RestartFields, ServingFields, PortFields, ProbeFields {
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
  /** What its pods do while their node is cut off from the allocator (common/disconnect.ts). */
  disconnect: DisconnectPolicy;
}

/** The number of pods that must be placed together, all or none: minReplicas for every type. */
export function gangSize(spec: Pick<WorkloadSpec, 'minReplicas'>): number {
  return spec.minReplicas;
}

/**
 * Largest spec, in bytes of its normalised JSON. The spec is stored, read back on every cycle and
 * list, and travels in every StartPod: a quarter of the wire's frame keeps a StartPod at the cap far
 * inside MAX_FRAME_BYTES, and stays well below the API's body limit so an oversized spec gets this
 * message rather than a bare "body too large".
 */
export const MAX_SPEC_BYTES = 256 * 1024;

// A spec that passes here must pass the wire's check at dispatch (common/wire-check.ts), which
// caps each field with WIRE_LIMITS; the JSON cap covers the frame's total size.
// (test/common/workload-caps.test.ts keeps MAX_SPEC_BYTES at most half of MAX_FRAME_BYTES.)
const L = WIRE_LIMITS;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Kubernetes' rule for environment variable names: a key a container runtime will accept as-is.
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const NUL_MESSAGE = 'must not contain a NUL character (no program can receive one)';
/** A string the wire carries: at most `max` characters, no NUL (execve cannot pass one). */
const wireString = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\0'), NUL_MESSAGE);
const identifier = wireString(L.maxIdChars).min(1);
const nameList = z.array(identifier);

const SpecInput = z.strictObject({
  name: z.string().min(1).max(63).regex(DNS_LABEL),
  project: identifier,
  type: z.enum(WORKLOAD_TYPES),
  priorityClass: z.enum(PRIORITY_CLASSES).optional(),
  command: z.array(wireString(L.maxArgChars)).min(1).max(L.maxCommandArgs),
  env: z.record(z.string(), wireString(L.maxArgChars)).optional(),
  nodePools: nameList.min(1).optional(),
  nodeTypes: nameList.optional(),
  gpuModels: nameList.optional(),
  replicas: positiveInt.optional(),
  minReplicas: positiveInt.optional(),
  maxReplicas: positiveInt.optional(),
  resources: ResourcesInput.optional(),
  minRuntime: quantity.optional(),
  minRuntimeMs: nonNegativeInt.optional(),
  disconnectPolicy: z.string().optional(),
  ...CONTAINER_INPUT_SHAPE,
  ...RESTART_INPUT_SHAPE,
  ...SERVING_INPUT_SHAPE,
  ...PORTS_INPUT_SHAPE,
  ...PROBE_INPUT_SHAPE,
});

type SpecIn = z.infer<typeof SpecInput>;

const REPLICAS_HELP = 'a whole number >= 1';

/** What each field accepts, keyed by dotted path with array indices as '*'; used in every message. */
const FIELD_HELP: Readonly<Record<string, string>> = {
  '': 'a JSON object with name, project, type and command',
  name: "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. 'resnet-50')",
  project: `the name of the project the workload belongs to (1 to ${L.maxIdChars} characters)`,
  type: `one of ${WORKLOAD_TYPES.join(', ')}`,
  priorityClass: `one of ${PRIORITY_CLASSES.join(', ')}`,
  command: 'a non-empty array of strings, program first (e.g. ["python", "train.py"])',
  'command.0': `the program to run, a non-empty string of at most ${L.maxArgChars} characters`,
  'command.*': `a string of at most ${L.maxArgChars} characters without NUL; pass larger data in a file`,
  env: `an object mapping variable names to string values (at most ${L.maxEnvEntries} of them)`,
  'env.*': `a string value of at most ${L.maxArgChars} characters without NUL; pass larger data in a file`,
  nodePools: 'a non-empty list of node pool names in order of preference (default ["default"])',
  'nodePools.*': `a node pool name of 1 to ${L.maxIdChars} characters`,
  nodeTypes: 'a list of node types the workload may run on (default: all of them)',
  'nodeTypes.*': `a node type of 1 to ${L.maxIdChars} characters`,
  gpuModels: 'a list of GPU models the workload may run on (default: all of them)',
  'gpuModels.*': `a GPU model name of 1 to ${L.maxIdChars} characters`,
  replicas: REPLICAS_HELP,
  minReplicas: REPLICAS_HELP,
  maxReplicas: REPLICAS_HELP,
  ...RESOURCES_FIELD_HELP,
  minRuntime: "a duration such as '250ms', '40s', '5m', '1h30m', or a whole number of milliseconds",
  minRuntimeMs: 'a whole number of milliseconds >= 0',
  disconnectPolicy: DISCONNECT_POLICY_HELP,
  ...CONTAINER_FIELD_HELP,
  ...RESTART_FIELD_HELP,
  ...SERVING_FIELD_HELP,
  ...PORTS_FIELD_HELP,
  ...PROBE_FIELD_HELP,
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
  user: 'use runAsUser, a numeric user id',
  volumes: 'use mounts: [{hostPath, containerPath?, readOnly?}]',
  cwd: 'use workingDir',
};

const { specError, fromIssue } = specMessages({
  help: FIELD_HELP,
  hints: UNKNOWN_FIELD_HINTS,
  fieldsAt: (path) =>
    probeFieldsAt(path) ??
    Object.keys(
      path === 'resources'
        ? ResourcesInput.shape
        : /^mounts\.\d+$/.test(path)
          ? MountInput.shape
          : path === 'autoscaling'
            ? AutoscalingInput.shape
            : /^ports\.\d+$/.test(path)
              ? PortInput.shape
              : SpecInput.shape,
    ),
});

/** Validates and normalises an untrusted workload spec; errors name the field as a dotted path. */
export function parseWorkloadSpec(input: unknown): Result<WorkloadSpec> {
  const proto = protoKeyIn(input);
  if (proto !== null) return err(proto);
  const parsed = SpecInput.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return err(first === undefined ? specError('', 'invalid') : fromIssue(first));
  }
  const s = parsed.data;

  const resources = normaliseResources(s.resources ?? {}, specError);
  if (!resources.ok) return resources;

  const replicas = normaliseReplicas(s);
  if (!replicas.ok) return replicas;
  const serving = normaliseServing(s, replicas.value, specError);
  if (!serving.ok) return serving;

  const lists = normaliseLists(s);
  if (!lists.ok) return lists;

  const minRuntimeMs = pickAlias(
    s.minRuntime,
    s.minRuntimeMs,
    'minRuntime',
    'minRuntimeMs',
    parseDurationMs,
    specError,
  );
  if (!minRuntimeMs.ok) return minRuntimeMs;

  const disconnect = s.disconnectPolicy === undefined ? ok(KEEP) : parseDisconnectPolicy(s.disconnectPolicy);
  if (!disconnect.ok) return disconnect;

  const container = normaliseContainer(s, specError);
  if (!container.ok) return container;

  const restart = normaliseRestart(s);
  if (!restart.ok) return restart;
  const ports: Result<PortFields> = normalisePorts(s, s.type, specError);
  if (!ports.ok) return ports;
  const probe = normaliseProbe(s, ports.value.ports, specError);
  if (!probe.ok) return probe;

  const priorityClass = s.priorityClass ?? WORKLOAD_TYPE_DEFAULTS[s.type].priorityClass;
  const priority = PRIORITY_VALUES[priorityClass];
  return withinSize({
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
    ...serving.value.range,
    resources: resources.value,
    minRuntimeMs: minRuntimeMs.value ?? 0,
    disconnect: disconnect.value,
    ...container.value,
    ...restart.value,
    ...serving.value.serving,
    ...ports.value,
    ...probe.value,
  });
}

/**
 * `env.__proto__` in a JSON body is an own key, but any object it is copied into drops it (zod's
 * record too): refused by name rather than lost without a word.
 */
function protoKeyIn(input: unknown): TesseraError | null {
  if (typeof input !== 'object' || input === null || !('env' in input)) return null;
  const env = input.env;
  if (typeof env !== 'object' || env === null || !Object.hasOwn(env, '__proto__')) return null;
  return specError('env.__proto__', 'not allowed as a variable name', null);
}

/** The spec, unless its JSON is over MAX_SPEC_BYTES: each field may be within its cap and the whole not. */
function withinSize(spec: WorkloadSpec): Result<WorkloadSpec> {
  const bytes = Buffer.byteLength(JSON.stringify(spec));
  if (bytes <= MAX_SPEC_BYTES) return ok(spec);
  return err(
    tesseraError(
      'TESSERA_E_INVALID_SPEC',
      `workload spec: ${bytes} bytes as JSON, over the limit of ${MAX_SPEC_BYTES} (${MAX_SPEC_BYTES / 1024} KiB); keep large data out of command and env: put it in a file the command reads`,
      { context: { bytes, limit: MAX_SPEC_BYTES } },
    ),
  );
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
  const keys = Object.keys(env);
  if (keys.length > L.maxEnvEntries)
    return err(specError('env', `has ${keys.length} entries, over the limit of ${L.maxEnvEntries}`));
  for (const key of keys) {
    if (key.length > L.maxIdChars)
      return err(specError(`env.${key}`, `the name is longer than ${L.maxIdChars} characters`, null));
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
