/**
 * `<dataDir>/agent-state.json`: what a running agent last knew, rewritten every few seconds, so that
 * `tessera health` can find the agent's HTTP port and, when the agent does not answer, still show
 * its pods and how stale that knowledge is (the file's own `writtenAtMs`).
 *
 * Written atomically (temp file, then rename) so a reader never sees half a file. Not fsynced: it is
 * a cache of live state, rebuilt on the next write; the runner's checkpoint is the durable record.
 * `createStateWriter` keeps it current for a running agent.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomicSync } from '../common/atomic-file.mjs';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import { type DefaultsOf, withDefaults } from '../common/options.ts';
import type { AgentStatus } from './api.ts';

/** The format this agent writes and reads. */
export const STATE_FILE_VERSION = 1;

/** The whole file. `status` is the agent's `status()` at `writtenAtMs`. */
export interface AgentStateFile {
  version: typeof STATE_FILE_VERSION;
  pid: number;
  /** Where `/metrics`, `/healthz` and `/status` answer; null when the agent serves no HTTP. */
  port: number | null;
  startedAtMs: number;
  writtenAtMs: number;
  /** Set by a clean shutdown; a crashed agent leaves it null and the file simply ages. */
  stoppedAtMs: number | null;
  gpu: { kind: 'nvidia' | 'sim'; simStateDir: string | null };
  status: AgentStatus;
}

/** Where the state file of the agent with data dir `dataDir` lives. */
export function stateFilePath(dataDir: string): string {
  return join(dataDir, 'agent-state.json');
}

/** Writes the state file atomically. */
export async function writeStateFile(dataDir: string, state: AgentStateFile): Promise<void> {
  writeJsonAtomicSync(stateFilePath(dataDir), state);
}

// The envelope is validated here; the `status` inside is validated by its reader (health.ts), for
// the fields it reads, since the same shape also arrives over HTTP.
const EnvelopeSchema = z.object({
  version: z.literal(STATE_FILE_VERSION),
  pid: z.number().int().positive(),
  port: z.number().int().min(0).max(65535).nullable(),
  startedAtMs: z.number(),
  writtenAtMs: z.number(),
  stoppedAtMs: z.number().nullable(),
  gpu: z.object({ kind: z.enum(['nvidia', 'sim']), simStateDir: z.string().nullable() }),
  status: z.unknown(),
});

/** The envelope as read; `status` still to be validated by whoever reads its fields. */
export type StateFileEnvelope = Omit<AgentStateFile, 'status'> & { status: unknown };

/** Reads the state file: null when there is none, an error when it is unreadable or malformed. */
export async function readStateFile(dataDir: string): Promise<Result<StateFileEnvelope | null>> {
  const file = stateFilePath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(null);
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `agent state file ${file} is unreadable: ${(e as Error).message}`,
        {
          context: { path: file },
        },
      ),
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `agent state file ${file} is not JSON: ${(e as Error).message}`,
        {
          context: { path: file },
        },
      ),
    );
  }
  const parsed = EnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : ` at ${issue.path.join('.') || '(root)'}: ${issue.message}`;
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `agent state file ${file} is malformed${where}`, {
        context: { path: file },
      }),
    );
  }
  return ok(parsed.data as StateFileEnvelope);
}

/** What a state writer needs; the envelope fields it does not stamp itself come from `contents`. */
export interface StateWriterOptions {
  dataDir: string;
  contents: () => Omit<AgentStateFile, 'version' | 'writtenAtMs' | 'stoppedAtMs'>;
  now: () => number;
  /** A write that failed; the next one tries again. */
  onError: (error: unknown) => void;
  /** Delay that coalesces the writes `soon()` asks for; default 100 ms. */
  soonMs?: number;
}

/** The defaults of `StateWriterOptions`, as its fields document them. */
const STATE_WRITER_DEFAULTS = { soonMs: 100 } as const satisfies DefaultsOf<StateWriterOptions>;

/** Keeps the state file current: now, soon after a change, and one last time on stop. */
export interface StateWriter {
  /** Writes now; asked during a write in flight, it joins that one. */
  write(): Promise<void>;
  /** Writes within `soonMs`; a burst of changes (a pod starting, an OOM kill and its exit) makes one write. */
  soon(): void;
  /** Marks the agent stopped: `soon()` schedules nothing more, and the next write says so. */
  stop(stoppedAtMs: number): void;
  /** Waits for a write in flight, then writes once more, so the file ends with everything up to now. */
  flush(): Promise<void>;
}

/** A writer of `<dataDir>/agent-state.json`; see `StateWriter`. */
export function createStateWriter(given: StateWriterOptions): StateWriter {
  const opts = withDefaults(given, STATE_WRITER_DEFAULTS);
  let writing: Promise<void> | null = null;
  let stoppedAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  const write = (): Promise<void> => {
    // One write at a time: a slow disk must not pile up writers racing on the same temp file.
    writing ??= writeStateFile(opts.dataDir, {
      ...opts.contents(),
      version: STATE_FILE_VERSION,
      writtenAtMs: opts.now(),
      stoppedAtMs,
    })
      .catch(opts.onError)
      .finally(() => {
        writing = null;
      });
    return writing;
  };
  return {
    write,
    soon() {
      if (timer !== null || stoppedAtMs !== null) return;
      timer = setTimeout(() => {
        timer = null;
        void write();
      }, opts.soonMs);
      // The agent's lifetime is its embedder's to decide: a pending write never keeps a process up.
      timer.unref();
    },
    stop(atMs) {
      stoppedAtMs = atMs;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
    async flush() {
      await writing;
      await write();
    },
  };
}
