/**
 * `tessera submit <type> NAME -p PROJECT [options] -- COMMAND...`: turns flags into the JSON spec
 * `POST /api/v1/workloads` takes (docs/architecture.md §7) and prints the workload it created.
 *
 * Quantities travel as written ("20GiB", "500m"): `common/workload.ts` on the allocator is the one
 * validator of a spec, and its errors name the spec field, which the CLI prints as they come. Here
 * only what JSON needs is checked: counts must be numbers, `-e` must be KEY=VALUE.
 */
import { Argument, type Command, Option } from 'commander';
import {
  PRIORITY_CLASSES,
  type PriorityClass,
  type PullPolicy,
  WORKLOAD_TYPES,
  type WorkloadType,
} from '../../common/workload.ts';
import { PULL_POLICIES } from '../../common/workload-container.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { readDataFile } from '../client/data-file.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import type { WorkloadView } from '../client/views.ts';
import { usageError } from '../errors.ts';
import { collect } from '../flags.ts';
import type { CliIo } from '../io.ts';
import type { CliContext } from './index.ts';
import type { SubmitBody, SubmitMount, SubmitResources } from './submit-body.ts';
import { mergeSubmitFile } from './submit-file.ts';
import { addNetworkFlags, networkFields, type RawNetworkFlags } from './submit-network.ts';
import { addProbeOptions, PROBE_HELP, type ProbeFlags, probeFields } from './submit-probe.ts';
import { addRestartOptions, type RawRestartFlags, restartFields } from './submit-restart.ts';
import { addRunaiOptions, applyPreemptibility, foldRunaiFlags, type RawRunaiFlags } from './submit-runai.ts';
import { addServingOptions, applyServingFlags, type RawServingFlags } from './submit-serving.ts';

const EXAMPLES = `
Examples:
  $ tessera submit training resnet -p vision --gpu-fraction 0.5 --memory 8GiB -- python train.py
  $ tessera submit training llm -p nlp --gpu 8 --cpu 32 -e NCCL_DEBUG=INFO -- torchrun train.py
  $ tessera submit inference chat -p nlp --gpu-memory 20GiB --gpu-memory-limit 40GiB \\
      --min-replicas 1 --max-replicas 4 -- python serve.py --port 8000
  $ tessera submit distributed bert -p nlp --gpu 1 --replicas 4 --node-pool a100,default -- ./run.sh
  $ tessera submit distributed llm -p nlp --gpu 8 --replicas 2 -e NPROC_PER_NODE=8 -- torchrun train.py
  $ tessera submit inference echo -p nlp --port http -- sh -c 'python -m http.server "$PORT"'
  $ tessera submit training resnet -p vision -i nvcr.io/nvidia/pytorch:24.05-py3 --pull-secret ngc \\
      --run-as-user 1000 --mount /datasets/imagenet:/data --mount /scratch:rw --gpu 1 -- python train.py
  $ tessera submit distributed bert -p nlp --replicas 4 --restart-policy OnFailure --backoff-limit 3 -- ./run.sh
  $ tessera submit -f resnet.yaml --gpu-fraction 0.25      # flags override the file's fields
  $ tessera submit -f resnet.yaml --dry-run                # the spec after policies, not stored
  $ tessera training submit resnet -p vision -i pytorch:24.05 --gpu-portion-request 0.5 \\
      --node-pools a100 --node-pools default --preemptible -- python train.py   # runai CLI v2 names

Everything after -- is the command each pod runs. GPUs per pod: --gpu N whole GPUs, or a fraction
of one GPU as --gpu-fraction 0.5 (or 500m) or --gpu-memory 20GiB, optionally with a limit it may
grow to (--gpu-fraction-limit / --gpu-memory-limit). Types: workspace and training run 1 pod,
distributed and inference may run several (--replicas, --min-replicas, --max-replicas).
With -i IMAGE the command runs in that container image (pulled with --pull-policy, logging in with
the project's registry secret --pull-secret, see tessera secret); without it, on the node's process
runtime. --mount HOST[:CONTAINER][:ro|rw] binds a host path an admin's policy allows (read-only
unless :rw); a path containing ':' needs a spec file (-f) with mounts.
--port NAME gives each pod a host port from its node's range (pods share the host's network), in
TESSERA_PORT_<NAME> and, for the first, PORT. A distributed workload's pods also get a port named
rendezvous and, by --framework (pytorch, the default; tensorflow, jax, mpi or none), the variables
its launcher reads: MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK and PET_* for torchrun, TF_CONFIG,
JAX_COORDINATOR_ADDRESS, or an MPI hostfile; plus TESSERA_POD_INDEX and TESSERA_PEERS.

runai CLI v2 names work too where they mean the same: -g/--gpu-devices-request (--gpu),
--gpu-portion-request (--gpu-fraction), --gpu-memory-request (--gpu-memory), --gpu-portion-limit,
--gpu-memory-limit, --node-pools, --environment (-e), --cpu-core-request, --cpu-memory-request,
--run-as-uid/--run-as-gid, --image-pull-policy, and --preemptible / --non-preemptible, which pick
a priority class of that kind (the type's default when it is one, else build-preemptible or build).

${PROBE_HELP}
`;

/** The flags as commander hands them over. */
export interface RawSubmitFlags extends RawRestartFlags, RawServingFlags, ProbeFlags, RawNetworkFlags {
  project?: string;
  gpu?: string;
  gpuFraction?: string;
  gpuMemory?: string;
  gpuFractionLimit?: string;
  gpuMemoryLimit?: string;
  cpu?: string;
  memory?: string;
  replicas?: string;
  minReplicas?: string;
  maxReplicas?: string;
  priorityClass?: PriorityClass;
  priority?: PriorityClass;
  nodePool?: string[];
  nodeType?: string[];
  gpuModel?: string[];
  env?: string[];
  disconnectPolicy?: string;
  image?: string;
  pullPolicy?: PullPolicy;
  pullSecret?: string;
  workingDir?: string;
  runAsUser?: string;
  runAsGroup?: string;
  mount?: string[];
}

/** Builds the `POST /workloads` body from the command line; throws a usage error for a bad flag. */
export function buildSubmitSpec(
  type: WorkloadType,
  name: string,
  flags: RawSubmitFlags,
  command: readonly string[],
): SubmitBody {
  if (command.length === 0) {
    throw usageError('COMMAND', 'give the command to run after --, e.g. -- python train.py');
  }
  if (flags.project === undefined)
    throw usageError('-p', 'give the project with -p PROJECT (or submit from a file with -f)');
  return { name, project: flags.project, type, command: [...command], ...flagFields(flags) };
}

/** The spec fields the flags set (everything but name, project, type and command). */
export function flagFields(flags: RawSubmitFlags): Partial<SubmitBody> {
  const body: Partial<SubmitBody> = {};
  if (
    flags.priorityClass !== undefined &&
    flags.priority !== undefined &&
    flags.priority !== flags.priorityClass
  )
    throw usageError('--priority', '--priority and --priority-class name the same thing: give one');
  const priorityClass = flags.priorityClass ?? flags.priority;
  if (priorityClass !== undefined) body.priorityClass = priorityClass;
  if (flags.env !== undefined && flags.env.length > 0) body.env = envOf(flags.env);
  // Checked by the allocator, which names the field and the accepted forms.
  if (flags.disconnectPolicy !== undefined) body.disconnectPolicy = flags.disconnectPolicy;
  // Repeated and comma-separated alike: --node-pool a100 --node-pool default == --node-pool a100,default.
  const list = (v: string[] | undefined) =>
    v
      ?.flatMap((x) => x.split(','))
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const pools = list(flags.nodePool);
  if (pools !== undefined) body.nodePools = pools;
  const types = list(flags.nodeType);
  if (types !== undefined) body.nodeTypes = types;
  const models = list(flags.gpuModel);
  if (models !== undefined) body.gpuModels = models;
  const counts = [
    ['replicas', flags.replicas, '--replicas'],
    ['minReplicas', flags.minReplicas, '--min-replicas'],
    ['maxReplicas', flags.maxReplicas, '--max-replicas'],
  ] as const;
  for (const [field, value, flag] of counts) {
    if (value !== undefined) body[field] = wholeNumber(value, flag);
  }
  // Checked by the allocator, which names the field and shows the accepted form.
  if (flags.image !== undefined) body.image = flags.image;
  if (flags.pullPolicy !== undefined) body.imagePullPolicy = flags.pullPolicy;
  if (flags.pullSecret !== undefined) body.imagePullSecret = flags.pullSecret;
  if (flags.workingDir !== undefined) body.workingDir = flags.workingDir;
  if (flags.runAsUser !== undefined) body.runAsUser = wholeNumber(flags.runAsUser, '--run-as-user');
  if (flags.runAsGroup !== undefined) body.runAsGroup = wholeNumber(flags.runAsGroup, '--run-as-group');
  if (flags.mount !== undefined && flags.mount.length > 0) body.mounts = flags.mount.map(mountOf);
  Object.assign(body, restartFields(flags));
  const probe = probeFields(flags);
  if (probe !== undefined) body.readinessProbe = probe;
  Object.assign(body, networkFields(flags));

  const resources: SubmitResources = {};
  if (flags.gpu !== undefined)
    resources.gpuDevices = wholeNumber(
      flags.gpu,
      '--gpu',
      ' (for part of a GPU use --gpu-fraction or --gpu-memory)',
    );
  const strings = [
    ['gpuFraction', flags.gpuFraction],
    ['gpuMemory', flags.gpuMemory],
    ['gpuFractionLimit', flags.gpuFractionLimit],
    ['gpuMemoryLimit', flags.gpuMemoryLimit],
    ['cpu', flags.cpu],
    ['memory', flags.memory],
  ] as const;
  for (const [field, value] of strings) {
    if (value !== undefined) resources[field] = value;
  }
  if (Object.keys(resources).length > 0) body.resources = resources;
  applyServingFlags(flags, body);
  return body;
}

/** A count flag's value as a number; the allocator checks its range, this only that it is one. */
function wholeNumber(value: string, flag: string, hint = ''): number {
  if (!/^\d+$/.test(value.trim())) throw usageError(flag, `${flag} '${value}' must be a whole number${hint}`);
  return Number(value);
}

/**
 * `--mount HOST[:CONTAINER][:ro|rw]` as a mounts entry, Docker's `-v` spelling. A last part `ro` or
 * `rw` is the mode; the allocator checks the paths themselves.
 */
export function mountOf(text: string): SubmitMount {
  const parts = text.split(':');
  const last = parts.at(-1);
  const mode = last === 'ro' || last === 'rw' ? last : undefined;
  if (mode !== undefined) parts.pop();
  const [hostPath, containerPath, ...rest] = parts;
  if (hostPath === undefined || hostPath === '' || containerPath === '' || rest.length > 0)
    throw usageError(
      '--mount',
      `--mount '${text}' must be HOST[:CONTAINER][:ro|rw], e.g. --mount /datasets:/data:ro (a path containing ':' needs a spec file with mounts)`,
    );
  const mount: SubmitMount = { hostPath };
  if (containerPath !== undefined) mount.containerPath = containerPath;
  if (mode !== undefined) mount.readOnly = mode === 'ro';
  return mount;
}

/** `-e KEY=VALUE` pairs as an env object; the value may itself contain '='. */
function envOf(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError('-e', `-e '${pair}' must be KEY=VALUE, e.g. -e NCCL_DEBUG=INFO`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** Adds every flag of a submit (not its arguments) to `command`: tessera's own and the runai CLI v2 names. */
export function addSubmitOptions(command: Command): Command {
  const gpuRequests = ['gpu', 'gpuFraction', 'gpuMemory'];
  const conflicting = (name: string, group: readonly string[]) => group.filter((g) => g !== name);
  addRestartOptions(addNetworkFlags(command))
    .option('-p, --project <project>', 'the project it runs in (required without -f)')
    .option('-f, --file <file>', 'a YAML or JSON workload spec; flags and arguments override its fields')
    .option('--dry-run', 'show the spec after policies and defaults without submitting it')
    .addOption(new Option('--gpu <n>', 'whole GPUs per pod').conflicts(conflicting('gpu', gpuRequests)))
    .addOption(
      new Option('--gpu-fraction <f>', 'a share of one GPU per pod: 0.5 or 500m').conflicts(
        conflicting('gpuFraction', gpuRequests),
      ),
    )
    .addOption(
      new Option('--gpu-memory <size>', 'GPU memory per pod, e.g. 20GiB').conflicts(
        conflicting('gpuMemory', gpuRequests),
      ),
    )
    .addOption(
      new Option('--gpu-fraction-limit <f>', 'share of the GPU a fractional pod may grow to').conflicts(
        'gpuMemoryLimit',
      ),
    )
    .option('--gpu-memory-limit <size>', 'GPU memory a fractional pod may grow to, e.g. 40GiB')
    .option('--cpu <cores>', 'CPU cores per pod: 2, 0.5 or 500m')
    .option('--memory <size>', 'memory per pod, e.g. 8GiB')
    .option('--replicas <n>', 'pods (distributed, inference)')
    .option('--min-replicas <n>', 'fewest pods it runs with; they are placed all or none')
    .option('--max-replicas <n>', 'most pods it may scale to')
    .addOption(new Option('--priority-class <class>', 'default: by type').choices(PRIORITY_CLASSES))
    .addOption(new Option('--priority <class>', 'same as --priority-class').choices(PRIORITY_CLASSES))
    .option(
      '--node-pool <pools>',
      'node pools in order of preference; repeat or comma-separate (default: default)',
      collect,
    )
    .option(
      '--node-type <types>',
      'only nodes labelled node.type=one of these; repeat or comma-separate',
      collect,
    )
    .option('--gpu-model <models>', 'only GPUs of these models; repeat or comma-separate', collect)
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeat for more)', collect)
    .option(
      '--disconnect-policy <policy>',
      'keep (default: pods run on while their node is cut off from the allocator) or reschedule:DURATION (e.g. reschedule:5m: stopped and placed elsewhere after that long)',
    )
    .option('-i, --image <ref>', 'run in this OCI image, e.g. nvcr.io/nvidia/pytorch:24.05-py3')
    .addOption(
      new Option('--pull-policy <policy>', 'when the image is pulled (default IfNotPresent)').choices(
        PULL_POLICIES,
      ),
    )
    .option('--pull-secret <name>', "the project's registry secret to pull the image with (tessera secret)")
    .option('--working-dir <dir>', 'the absolute directory the command starts in')
    .option('--run-as-user <uid>', 'the numeric user id the pods run as')
    .option('--run-as-group <gid>', 'the numeric group id the pods run as')
    .option(
      '--mount <HOST[:CONTAINER][:ro|rw]>',
      'bind a host path into the pods, read-only unless :rw (repeat for more)',
      collect,
    )
    .addOption(outputOption());
  addServingOptions(command);
  addProbeOptions(command);
  addRunaiOptions(command);
  return addClientOptions(command);
}

/**
 * Submits what the command line says: `type` and `name` from the arguments (or the spec file),
 * the flags from `cmd`; prints the created workload, or the spec with --dry-run.
 */
export async function submitFromCommandLine(
  io: CliIo,
  cmd: Command,
  type: WorkloadType | undefined,
  name: string | undefined,
  commandArgs: readonly string[],
): Promise<void> {
  const given = cmd.opts<
    RawSubmitFlags & RawRunaiFlags & { output: OutputFormat; file?: string; dryRun?: boolean }
  >();
  const { flags, preemptibility } = foldRunaiFlags(given);
  let body: unknown;
  if (flags.file === undefined) {
    if (type === undefined || name === undefined)
      throw usageError(
        'TYPE',
        'give the workload type and name (tessera submit training NAME ...), or a spec file with -f',
      );
    body = buildSubmitSpec(type, name, flags, commandArgs);
  } else {
    const overrides: Partial<SubmitBody> = { ...flagFields(flags) };
    if (type !== undefined) overrides.type = type;
    if (name !== undefined) overrides.name = name;
    if (flags.project !== undefined) overrides.project = flags.project;
    if (commandArgs.length > 0) overrides.command = [...commandArgs];
    body = mergeSubmitFile(await readDataFile(flags.file), flags.file, overrides);
  }
  body = applyPreemptibility(body, preemptibility);
  const client = await connect(cmd.opts<ClientFlags>());
  if (flags.dryRun === true) {
    const spec = await client.request<Record<string, unknown>>('POST', '/workloads?dryRun=true', body);
    // The point of a dry run is the whole spec, so even the default format prints it (as YAML).
    printData(io, flags.output === 'table' ? 'yaml' : flags.output, spec, () => '');
    return;
  }
  const created = await client.request<WorkloadView>('POST', '/workloads', body);
  printData(io, flags.output, created, (w) =>
    formatTable({
      header: ['ID', 'NAME', 'PROJECT', 'TYPE', 'PHASE'],
      rows: [[w.id, w.name, w.project, w.type, w.phase]],
    }),
  );
}

/** Adds `submit`'s arguments, flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addSubmitOptions(
    command
      .description('Submit a workload; everything after -- is the command its pods run.')
      .addArgument(new Argument('[type]', 'workload type (required without -f)').choices(WORKLOAD_TYPES))
      .argument('[name]', "workload name, a DNS label such as 'resnet-50' (required without -f)")
      .argument('[command...]', 'the command each pod runs (after --)'),
  )
    .addHelpText('after', EXAMPLES)
    .action(
      async (
        type: WorkloadType | undefined,
        name: string | undefined,
        commandArgs: string[],
        _flags: unknown,
        cmd: Command,
      ) => submitFromCommandLine(io, cmd, type, name, commandArgs),
    );
}
