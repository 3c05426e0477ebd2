/**
 * The agent's local record of what it runs (`<dataDir>/runner-checkpoint.json`), so a restarted agent
 * adopts its pods instead of orphaning or duplicating them. Written atomically and durably: a crash
 * or power loss leaves either the old file or the new one, never half of one.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ok, type Result, type TesseraError, tesseraError } from '../../common/errors.ts';
import { type DurableFs, readJsonRecord, writeJsonDurable } from '../durable-json.ts';
import type { RuntimeRef } from '../runtime/types.ts';
import type { PodRunState, PodSpec } from './types.ts';

/**
 * The checkpoint format this agent writes. Version 1 (before runtimes) recorded `pid` and `pgid`;
 * it is still read, each pod's pid becoming a process ref without a cgroup, so an upgraded agent
 * adopts the pods its predecessor started.
 */
export const CHECKPOINT_VERSION = 2;

/**
 * One pod as recorded: enough to find it again through its runtime and to tell its main process
 * from a recycled pid. The spec never holds `pullCredential` (the runner strips it).
 */
export interface CheckpointPod {
  spec: PodSpec;
  /** How its runtime finds it; null while it was still starting (no process yet). */
  ref: RuntimeRef | null;
  pid: number | null;
  startTimeTicks: number | null;
  startedAtMs: number | null;
  state: PodRunState;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
}

/** The whole file. */
export interface RunnerCheckpoint {
  version: typeof CHECKPOINT_VERSION;
  pods: CheckpointPod[];
  /** Newest epoch seen per pod id, kept after a pod is forgotten so an older assignment stays fenced. */
  epochs: Record<string, number>;
}

/** The file operations a durable write needs; injected so a test can see the fsyncs happen in order. */
export type CheckpointFs = DurableFs;

/** Where the runner keeps its checkpoint under the agent's data dir. */
export function checkpointPath(dataDir: string): string {
  return join(dataDir, 'runner-checkpoint.json');
}

const nonNegInt = z.number().int().nonnegative();

const GrantSchema = z.object({
  uuid: z.string(),
  gpuMilli: nonNegInt,
  memoryMiB: nonNegInt,
  memoryLimitMiB: nonNegInt,
});

const SpecSchema = z.object({
  podId: z.string().min(1),
  workload: z.string(),
  project: z.string(),
  epoch: nonNegInt,
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  networkEnv: z.record(z.string(), z.string()).optional(),
  workingDir: z.string().optional(),
  grants: z.array(GrantSchema),
  priority: z.number(),
  graceSeconds: z.number().nonnegative(),
  readiness: z
    .object({
      linePrefix: z.string().nullable().optional(),
      delayMs: nonNegInt.nullable().optional(),
      // Kept so an adopted pod goes on being probed.
      probe: z
        .object({
          kind: z.enum(['http', 'tcp']),
          port: nonNegInt,
          path: z.string().nullable(),
          initialDelayMs: nonNegInt,
          periodMs: nonNegInt,
          timeoutMs: nonNegInt,
          failureThreshold: nonNegInt,
        })
        .nullable()
        .optional(),
    })
    .optional(),
  rescheduleAfterMs: nonNegInt.optional(),
  image: z.string().optional(),
  imagePullPolicy: z.enum(['IfNotPresent', 'Always', 'Never']).optional(),
  runAsUser: nonNegInt.optional(),
  runAsGroup: nonNegInt.optional(),
  mounts: z
    .array(z.object({ hostPath: z.string(), containerPath: z.string(), readOnly: z.boolean() }))
    .optional(),
  cpuMillis: nonNegInt.optional(),
  memoryMiB: nonNegInt.optional(),
});

const V1ControllersSchema = z.object({
  memory: z.string().optional(),
  pids: z.string().optional(),
  cpu: z.string().optional(),
  freezer: z.string().optional(),
});
const CgroupSchema = z.object({ unified: z.string().nullable(), v1: V1ControllersSchema }).nullable();

const RefSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('process'),
    pid: z.number().int().positive(),
    startTimeTicks: nonNegInt,
    cgroup: CgroupSchema,
    uid: nonNegInt.optional(),
    gid: nonNegInt.optional(),
  }),
  z.object({
    kind: z.literal('container'),
    id: z.string(),
    name: z.string(),
    // 0: the container had ended before its pid was seen (a command that exits at once).
    pid: nonNegInt,
    startTimeTicks: nonNegInt,
    cgroup: CgroupSchema,
  }),
]);

const PodSchema = z.object({
  spec: SpecSchema,
  // Absent in version 1, which had `pgid` instead (always the pid: the leader called setsid).
  ref: RefSchema.nullable().optional(),
  pid: z.number().int().positive().nullable(),
  pgid: z.number().int().positive().nullable().optional(),
  startTimeTicks: nonNegInt.nullable(),
  startedAtMs: nonNegInt.nullable(),
  state: z.enum(['starting', 'running', 'ready', 'stopping', 'exited', 'lost', 'swapped-out']),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string().nullable(),
});

const CheckpointSchema = z.object({
  version: z.union([z.literal(1), z.literal(CHECKPOINT_VERSION)]),
  pods: z.array(PodSchema),
  epochs: z.record(z.string(), nonNegInt),
});

/** A checkpoint with nothing in it. */
export function emptyCheckpoint(): RunnerCheckpoint {
  return { version: CHECKPOINT_VERSION, pods: [], epochs: {} };
}

/** Writes the checkpoint durably (`writeJsonDurable`). */
export function writeCheckpoint(path: string, checkpoint: RunnerCheckpoint, io?: CheckpointFs): Result<void> {
  return writeJsonDurable(path, checkpoint, 'runner checkpoint', io);
}

/** A checkpoint of a newer format: refused, and left where it is, since a newer agent may still want it. */
function newerVersion(path: string, raw: unknown): TesseraError | null {
  if (
    typeof raw === 'object' &&
    raw !== null &&
    'version' in raw &&
    typeof raw.version === 'number' &&
    raw.version > CHECKPOINT_VERSION
  ) {
    return tesseraError(
      'TESSERA_E_INTERNAL',
      `runner checkpoint ${path} has format version ${raw.version}, newer than this agent's ${CHECKPOINT_VERSION}: run the newer agent, or move the file away to start without adopting`,
      { context: { path, version: raw.version } },
    );
  }
  return null;
}

/**
 * Reads the checkpoint back, validated. No file: an empty checkpoint (first start). A file that is not
 * valid JSON or not the expected shape is moved aside to `<path>.corrupt-<ms>` (kept for a human to
 * read) and reported as an error naming both files; it never throws. A newer format version is an
 * error too, but the file stays where it is, since a newer agent may still want it.
 */
export function readCheckpoint(
  path: string,
  opts: { io?: CheckpointFs; now?: () => number } = {},
): Result<RunnerCheckpoint> {
  const read = readJsonRecord(path, CheckpointSchema, {
    what: 'runner checkpoint',
    consequence: '; the pods it recorded were not adopted',
    now: opts.now,
    io: opts.io,
    refuse: (raw) => newerVersion(path, raw),
  });
  if (!read.ok) return read;
  if (read.value === null) return ok(emptyCheckpoint());
  const parsed = read.value as z.infer<typeof CheckpointSchema>;
  return ok({
    version: CHECKPOINT_VERSION,
    // The schema mirrors PodSpec and RuntimeRef, so the parsed values are those types.
    pods: parsed.pods.map(({ pgid: _pgid, ref, ...rest }) => ({
      ...(rest as Omit<CheckpointPod, 'ref'>),
      ref: (ref as RuntimeRef | null | undefined) ?? legacyRef(rest.pid, rest.startTimeTicks),
    })),
    epochs: parsed.epochs,
  });
}

/** A version-1 pod's process as a ref: its group was its pid, and it had no cgroup. */
function legacyRef(pid: number | null, startTimeTicks: number | null): RuntimeRef | null {
  return pid === null || startTimeTicks === null
    ? null
    : { kind: 'process', pid, startTimeTicks, cgroup: null };
}
