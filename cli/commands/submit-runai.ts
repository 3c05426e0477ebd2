/**
 * The runai CLI v2 spellings `tessera submit` accepts where they mean what a tessera flag means
 * (runai's `runai training submit --help`): each is folded into the tessera flag, once, before the
 * spec is built, so the rest of submit sees only its own names. A flag given under both names, or
 * runai flags whose combination Tessera cannot place, is a usage error that says which to keep.
 */
import { type Command, Option } from 'commander';
import {
  isPreemptible,
  PRIORITY_VALUES,
  type PriorityClass,
  type PullPolicy,
  WORKLOAD_TYPE_DEFAULTS,
  WORKLOAD_TYPES,
  type WorkloadType,
} from '../../common/workload.ts';
import { PULL_POLICIES } from '../../common/workload-container.ts';
import { usageError } from '../errors.ts';
import { collect } from '../flags.ts';

/** The runai flags as commander hands them over. */
export interface RawRunaiFlags {
  gpuDevicesRequest?: string;
  gpuPortionRequest?: string;
  gpuMemoryRequest?: string;
  gpuPortionLimit?: string;
  gpuRequestType?: string;
  nodePools?: string[];
  environment?: string[];
  cpuCoreRequest?: string;
  cpuMemoryRequest?: string;
  runAsUid?: string;
  runAsGid?: string;
  imagePullPolicy?: PullPolicy;
  preemptible?: boolean;
  nonPreemptible?: boolean;
}

/** The tessera submit flags the runai ones fold into (a part of submit.ts's RawSubmitFlags). */
export interface FoldTarget {
  gpu?: string;
  gpuFraction?: string;
  gpuMemory?: string;
  gpuFractionLimit?: string;
  cpu?: string;
  memory?: string;
  runAsUser?: string;
  runAsGroup?: string;
  pullPolicy?: PullPolicy;
  nodePool?: string[];
  env?: string[];
}

/** Which runai flag is which tessera flag: [runai key, tessera key, runai flag, tessera flag]. */
const SAME_MEANING = [
  ['gpuDevicesRequest', 'gpu', '--gpu-devices-request', '--gpu'],
  ['gpuPortionRequest', 'gpuFraction', '--gpu-portion-request', '--gpu-fraction'],
  ['gpuMemoryRequest', 'gpuMemory', '--gpu-memory-request', '--gpu-memory'],
  ['gpuPortionLimit', 'gpuFractionLimit', '--gpu-portion-limit', '--gpu-fraction-limit'],
  ['cpuCoreRequest', 'cpu', '--cpu-core-request', '--cpu'],
  ['cpuMemoryRequest', 'memory', '--cpu-memory-request', '--memory'],
  ['runAsUid', 'runAsUser', '--run-as-uid', '--run-as-user'],
  ['runAsGid', 'runAsGroup', '--run-as-gid', '--run-as-group'],
  ['imagePullPolicy', 'pullPolicy', '--image-pull-policy', '--pull-policy'],
  ['nodePools', 'nodePool', '--node-pools', '--node-pool'],
] as const satisfies readonly (readonly [keyof RawRunaiFlags, keyof FoldTarget, string, string])[];

/** Adds the runai CLI v2 flag names to a submit command. */
export function addRunaiOptions(command: Command): Command {
  return command
    .option('-g, --gpu-devices-request <n>', 'runai name of --gpu: whole GPUs per pod')
    .option('--gpu-portion-request <f>', 'runai name of --gpu-fraction: a share of one GPU, 0 to 1')
    .option('--gpu-memory-request <size>', 'runai name of --gpu-memory, e.g. 20G or 20GiB')
    .option('--gpu-portion-limit <f>', 'runai name of --gpu-fraction-limit')
    .addOption(
      new Option('--gpu-request-type <type>', 'runai: which fractional request is given').choices([
        'portion',
        'memory',
      ]),
    )
    .option(
      '--node-pools <pool>',
      'runai name of --node-pool: node pools in order of preference (repeat)',
      collect,
    )
    .option('--environment <KEY=VALUE>', 'runai name of -e/--env: an environment variable (repeat)', collect)
    .option('--cpu-core-request <cores>', 'runai name of --cpu')
    .option('--cpu-memory-request <size>', 'runai name of --memory, e.g. 8G')
    .option('--run-as-uid <uid>', 'runai name of --run-as-user')
    .option('--run-as-gid <gid>', 'runai name of --run-as-group')
    .addOption(
      new Option('--image-pull-policy <policy>', 'runai name of --pull-policy').choices(PULL_POLICIES),
    )
    .addOption(
      new Option(
        '--preemptible',
        'may run over quota and be preempted: a preemptible priority class (the type default when it is one, else build-preemptible)',
      ).conflicts('nonPreemptible'),
    )
    .option(
      '--non-preemptible',
      'never preempted, within deserved quota only: a non-preemptible priority class (the type default when it is one, else build)',
    );
}

/** What the runai flags asked of preemptibility, resolved once the workload type is known. */
export type Preemptibility = 'preemptible' | 'non-preemptible' | undefined;

/**
 * The submit flags with every runai flag folded into its tessera name, and the preemptibility
 * asked for; throws a usage error for a flag given twice or a combination Tessera cannot place.
 */
export function foldRunaiFlags<F extends FoldTarget & RawRunaiFlags>(
  given: F,
): { flags: F; preemptibility: Preemptibility } {
  const flags: F = { ...given };
  const writable = flags as Record<string, unknown>;
  for (const [runai, own, runaiFlag, ownFlag] of SAME_MEANING) {
    const theirs = given[runai];
    if (theirs === undefined) continue;
    if (given[own] !== undefined)
      throw usageError(runaiFlag, `${runaiFlag} is runai's name for ${ownFlag}: give one of them`);
    writable[own] = theirs;
    delete writable[runai];
  }
  if (given.environment !== undefined) {
    for (const e of given.environment)
      if (!e.includes('=') || e.startsWith('='))
        throw usageError(
          '--environment',
          `--environment '${e}' must be KEY=VALUE: as in runai CLI v2 it sets an environment variable (Tessera has no environment assets)`,
        );
    flags.env = [...(given.env ?? []), ...given.environment];
    delete writable.environment;
  }
  checkGpuRequest(flags, given);
  const preemptibility: Preemptibility =
    given.preemptible === true
      ? 'preemptible'
      : given.nonPreemptible === true
        ? 'non-preemptible'
        : undefined;
  delete writable.preemptible;
  delete writable.nonPreemptible;
  delete writable.gpuRequestType;
  return { flags, preemptibility };
}

/**
 * runai asks `--gpu-devices-request N --gpu-portion-request P` for N GPUs each shared at P; Tessera
 * gives a fractional pod part of one GPU, so only N = 1 (that one GPU, shared) keeps its meaning.
 */
function checkGpuRequest(flags: FoldTarget, given: RawRunaiFlags): void {
  const fractional = flags.gpuFraction ?? flags.gpuMemory;
  if (flags.gpuFraction !== undefined && flags.gpuMemory !== undefined)
    throw usageError(
      '--gpu-portion-request',
      'a pod asks for a share of a GPU by portion or by memory, not both: give --gpu-portion-request (--gpu-fraction) or --gpu-memory-request (--gpu-memory)',
    );
  if (flags.gpu !== undefined && fractional !== undefined) {
    if (given.gpuDevicesRequest === undefined || flags.gpu.trim() !== '1')
      throw usageError(
        given.gpuDevicesRequest === undefined ? '--gpu' : '--gpu-devices-request',
        `${given.gpuDevicesRequest === undefined ? '--gpu' : `--gpu-devices-request ${flags.gpu}`} with a GPU portion or memory asks for several shared GPUs, which Tessera does not place: a fractional pod gets part of one GPU. Give the portion or memory alone (one GPU shared), or whole GPUs alone`,
      );
    // runai's `--gpu-devices-request 1 --gpu-portion-request 0.5`: one GPU, half of it.
    delete flags.gpu;
  }
  const type = given.gpuRequestType;
  if (type === 'portion' && flags.gpuFraction === undefined)
    throw usageError('--gpu-request-type', '--gpu-request-type portion needs --gpu-portion-request');
  if (type === 'memory' && flags.gpuMemory === undefined)
    throw usageError('--gpu-request-type', '--gpu-request-type memory needs --gpu-memory-request');
}

const preemptibleClass = (c: PriorityClass): boolean => isPreemptible(PRIORITY_VALUES[c]);

/**
 * The priority class that gives `type` the preemptibility asked for: the one given (refused when it
 * says the opposite), else the type's default when it already fits, else build-preemptible or build.
 */
export function priorityClassFor(
  type: WorkloadType,
  given: PriorityClass | undefined,
  want: 'preemptible' | 'non-preemptible',
): PriorityClass {
  const preemptible = want === 'preemptible';
  if (given !== undefined) {
    if (preemptibleClass(given) !== preemptible)
      throw usageError(
        '--priority-class',
        `--priority-class ${given} is ${preemptibleClass(given) ? 'preemptible' : 'non-preemptible'}, which --${want} contradicts: give one of them`,
      );
    return given;
  }
  const byType = WORKLOAD_TYPE_DEFAULTS[type].priorityClass;
  if (preemptibleClass(byType) === preemptible) return byType;
  return preemptible ? 'build-preemptible' : 'build';
}

/** Sets the spec's priority class for --preemptible / --non-preemptible, once its type is known. */
export function applyPreemptibility(body: unknown, want: Preemptibility): unknown {
  if (want === undefined || typeof body !== 'object' || body === null) return body;
  const spec = body as { type?: unknown; priorityClass?: unknown };
  const type = WORKLOAD_TYPES.find((t) => t === spec.type);
  // Without a valid type the allocator refuses the spec and names the field: nothing to resolve here.
  if (type === undefined) return body;
  const given = typeof spec.priorityClass === 'string' ? (spec.priorityClass as PriorityClass) : undefined;
  return { ...spec, priorityClass: priorityClassFor(type, given, want) };
}
