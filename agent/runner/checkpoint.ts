/**
 * The agent's local record of what it runs (`<dataDir>/runner-checkpoint.json`), so a restarted agent
 * adopts its pods instead of orphaning or duplicating them. Written atomically and durably: a crash
 * or power loss leaves either the old file or the new one, never half of one.
 */
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { err, ok, type Result, tesseraError } from '../../shared/errors.ts';
import type { PodRunState, PodSpec } from './types.ts';

/** The checkpoint format this agent writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** One pod as recorded: enough to find its process again and to tell it from a recycled pid. */
export interface CheckpointPod {
  spec: PodSpec;
  pid: number | null;
  pgid: number | null;
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
export interface CheckpointFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: Uint8Array): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
  readFileSync(path: string, encoding: 'utf8'): string;
}

const nodeFs: CheckpointFs = {
  openSync: (p, f, m) => fs.openSync(p, f, m),
  writeSync: (fd, d) => fs.writeSync(fd, d),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  rmSync: (p, o) => fs.rmSync(p, o),
  readFileSync: (p, e) => fs.readFileSync(p, e),
};

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
  workingDir: z.string().optional(),
  grants: z.array(GrantSchema),
  priority: z.number(),
  graceSeconds: z.number().nonnegative(),
  readiness: z
    .object({
      linePrefix: z.string().nullable().optional(),
      delayMs: nonNegInt.nullable().optional(),
    })
    .optional(),
});

const PodSchema = z.object({
  spec: SpecSchema,
  pid: z.number().int().positive().nullable(),
  pgid: z.number().int().positive().nullable(),
  startTimeTicks: nonNegInt.nullable(),
  startedAtMs: nonNegInt.nullable(),
  state: z.enum(['starting', 'running', 'ready', 'stopping', 'exited', 'lost', 'swapped-out']),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string().nullable(),
});

const CheckpointSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  pods: z.array(PodSchema),
  epochs: z.record(z.string(), nonNegInt),
});

/** A checkpoint with nothing in it. */
export function emptyCheckpoint(): RunnerCheckpoint {
  return { version: CHECKPOINT_VERSION, pods: [], epochs: {} };
}

function ioError(path: string, what: string, e: unknown, label = 'runner checkpoint'): Result<never> {
  const why = e instanceof Error ? e.message : String(e);
  return err(
    tesseraError('TESSERA_E_INTERNAL', `${label} ${path}: ${what} failed: ${why}`, {
      context: { path },
    }),
  );
}

/** Writes the checkpoint durably (`writeDurably`). */
export function writeCheckpoint(
  path: string,
  checkpoint: RunnerCheckpoint,
  io: CheckpointFs = nodeFs,
): Result<void> {
  return writeDurably(path, `${JSON.stringify(checkpoint)}\n`, { io });
}

/**
 * Replaces `path` with `text` durably: temp file, fsync it, rename over the old one, fsync the
 * directory. Without the file fsync a crash can leave the renamed file empty (ext4 delayed
 * allocation); without the directory fsync the rename itself may not survive, and the old file comes
 * back. `label` names the file in errors.
 */
export function writeDurably(
  path: string,
  text: string,
  opts: { io?: CheckpointFs; label?: string } = {},
): Result<void> {
  const io = opts.io ?? nodeFs;
  const label = opts.label ?? 'runner checkpoint';
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | null = null;
  try {
    fd = io.openSync(tmp, 'w', 0o600);
    const bytes = Buffer.from(text);
    // A write may be short; loop until every byte is in.
    let written = 0;
    while (written < bytes.length) written += io.writeSync(fd, bytes.subarray(written));
    io.fsyncSync(fd);
    io.closeSync(fd);
    fd = null;
    io.renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) io.closeSync(fd);
    io.rmSync(tmp, { force: true });
    return ioError(path, 'write', e, label);
  }
  try {
    const dirFd = io.openSync(dirname(path), 'r');
    try {
      io.fsyncSync(dirFd);
    } finally {
      io.closeSync(dirFd);
    }
  } catch (e) {
    return ioError(path, 'fsync of its directory', e, label);
  }
  return ok(undefined);
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
  const io = opts.io ?? nodeFs;
  let text: string;
  try {
    text = io.readFileSync(path, 'utf8');
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'code' in e && e.code === 'ENOENT') {
      return ok(emptyCheckpoint());
    }
    return ioError(path, 'read', e);
  }
  let why: string;
  try {
    const raw: unknown = JSON.parse(text);
    if (
      typeof raw === 'object' &&
      raw !== null &&
      'version' in raw &&
      typeof raw.version === 'number' &&
      raw.version > CHECKPOINT_VERSION
    ) {
      return err(
        tesseraError(
          'TESSERA_E_INTERNAL',
          `runner checkpoint ${path} has format version ${raw.version}, newer than this agent's ${CHECKPOINT_VERSION}: run the newer agent, or move the file away to start without adopting`,
          { context: { path, version: raw.version } },
        ),
      );
    }
    const parsed = CheckpointSchema.safeParse(raw);
    if (parsed.success) {
      // The schema mirrors PodSpec, so the parsed value is that type (zod's inferred one is structural).
      return ok(parsed.data as RunnerCheckpoint);
    }
    const issue = parsed.error.issues[0];
    why =
      issue === undefined
        ? 'invalid shape'
        : `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
  } catch (e) {
    why = `not valid JSON (${e instanceof Error ? e.message : String(e)})`;
  }
  const aside = `${path}.corrupt-${(opts.now ?? Date.now)()}`;
  let moved = true;
  try {
    io.renameSync(path, aside);
  } catch {
    moved = false;
  }
  const where = moved ? `moved aside to ${aside}` : 'could not be moved aside';
  return err(
    tesseraError(
      'TESSERA_E_INTERNAL',
      `runner checkpoint ${path} is corrupt (${why}); ${where}; the pods it recorded were not adopted`,
      { context: { path, aside: moved ? aside : '' } },
    ),
  );
}
