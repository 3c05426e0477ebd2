/**
 * The `nvidia` GpuDriver: `nvidia-smi -q -x` for the inventory, two long-lived
 * `nvidia-smi --query-... -lms N` streams for samples, `cuda-checkpoint` for swap. The `sim`
 * backend is this same driver pointed at fake executables that print the same formats, so the
 * parsing and process handling below run in every test and in `tessera up` without a GPU.
 */
import { err, ok, type Result, type TesseraError, tesseraError } from '../../common/errors.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import type { CheckpointState, GpuDriver, GpuInventory, SampleHandlers, SampleStream } from './driver.ts';
import { APPS_QUERY_FIELDS, GPU_QUERY_FIELDS, parseAppsCsvLine, parseGpuCsvLine } from './parse-smi-csv.ts';
import { parseSmiXml } from './parse-smi-xml.ts';
import { SampleGrouper } from './sample-grouper.ts';
import {
  type RestartBackoff,
  runOutput,
  runTool,
  superviseLineStream,
  TOOL_RESTART_BACKOFF,
  type ToolRun,
} from './tool-process.ts';

/** Options of createNvidiaDriver; every one has a default that suits a real NVIDIA node. */
export interface NvidiaDriverOptions {
  /** nvidia-smi to run; default `nvidia-smi` on PATH. */
  nvidiaSmi?: string;
  /** cuda-checkpoint to run; default `cuda-checkpoint` on PATH. */
  cudaCheckpoint?: string;
  /** Added to the agent's environment for every tool run (the sim's state directory, for one). */
  env?: Record<string, string>;
  /** The agent's clock, stamped on samples; default Date.now. */
  now?: () => number;
  /** `sim` when the tools are the sim backend's fakes; default `nvidia`. */
  kind?: 'nvidia' | 'sim';
  /** Limit for `-q -x` and `--help`; default 15 s (`-q` on 8 GPUs without persistence mode takes seconds). */
  commandTimeoutMs?: number;
  /** Limit for each cuda-checkpoint action; default 120 s, since checkpoint copies all of a process's GPU memory to host. */
  checkpointTimeoutMs?: number;
  /** Restart delays of a dead sampling stream; default 500 ms doubling to 10 s. */
  restartBackoff?: RestartBackoff;
}

/** The defaults of `NvidiaDriverOptions`, as its fields document them. */
const NVIDIA_DEFAULTS = {
  nvidiaSmi: 'nvidia-smi',
  cudaCheckpoint: 'cuda-checkpoint',
  now: Date.now,
  kind: 'nvidia',
  commandTimeoutMs: 15_000,
  checkpointTimeoutMs: 120_000,
  restartBackoff: TOOL_RESTART_BACKOFF,
} as const satisfies DefaultsOf<NvidiaDriverOptions>;

/** `NvidiaDriverOptions` complete: every default filled in. */
export type ResolvedNvidiaDriverOptions = WithDefaults<NvidiaDriverOptions, typeof NVIDIA_DEFAULTS>;

/** Fills in every default of `opts`: done once, where the driver is created. */
export function resolveNvidiaDriverOptions(opts: NvidiaDriverOptions): ResolvedNvidiaDriverOptions {
  return withDefaults(opts, NVIDIA_DEFAULTS);
}

/** The message when nvidia-smi is not there; tells the user the two ways forward. */
export const NVIDIA_SMI_MISSING = 'nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim';
/** The message when cuda-checkpoint is not there. */
export const CUDA_CHECKPOINT_MISSING =
  "cuda-checkpoint not found: GPU swap needs NVIDIA's cuda-checkpoint (driver r550+) on PATH";

function gpuError(message: string, context: Record<string, string | number>): TesseraError {
  return tesseraError('TESSERA_E_GPU_DRIVER', message, { context });
}

/** The error for a tool run that did not succeed: missing, timed out, or failed with what it said. */
function runError(
  run: Exclude<ToolRun, { kind: 'ok' }>,
  command: string,
  missingMessage: string,
  timeoutMs: number,
): TesseraError {
  switch (run.kind) {
    case 'missing':
      return gpuError(missingMessage, { command });
    case 'timeout':
      return gpuError(`${command} did not answer within ${timeoutMs} ms${stderrSuffix(run.stderr)}`, {
        command,
        timeoutMs,
      });
    case 'failed': {
      const how = run.signal !== null ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
      const said = runOutput(run);
      const context: Record<string, string | number> = { command };
      if (run.exitCode !== null) context.exitCode = run.exitCode;
      if (said !== '') context.stderr = said;
      return gpuError(`${command} ${how}${said === '' ? '' : `: ${said}`}`, context);
    }
  }
}

const CHECKPOINT_STATES: readonly string[] = ['running', 'locked', 'checkpointed', 'failed'];

function isCheckpointState(s: string): s is CheckpointState {
  return CHECKPOINT_STATES.includes(s);
}

function stderrSuffix(stderr: string): string {
  const said = runOutput({ stderr });
  return said === '' ? '' : `: ${said}`;
}

/** Creates the nvidia (or, pointed at fakes, the sim) GPU driver. */
export function createNvidiaDriver(options: NvidiaDriverOptions = {}): GpuDriver {
  const opts = resolveNvidiaDriverOptions(options);
  const { env, now, commandTimeoutMs, checkpointTimeoutMs } = opts;
  const smi = opts.nvidiaSmi;
  const checkpointTool = opts.cudaCheckpoint;
  const backoff = opts.restartBackoff;
  // Say where we looked when it was not the plain name on PATH: a wrong --nvidia-smi path is a typo to spot.
  const smiMissing = smi === 'nvidia-smi' ? NVIDIA_SMI_MISSING : `${NVIDIA_SMI_MISSING} (looked for ${smi})`;
  const checkpointMissing =
    checkpointTool === 'cuda-checkpoint'
      ? CUDA_CHECKPOINT_MISSING
      : `${CUDA_CHECKPOINT_MISSING} (looked for ${checkpointTool})`;

  async function cudaCheckpoint(action: string, pid: number): Promise<Result<true>> {
    const args = ['--action', action, '--pid', String(pid)];
    const run = await runTool(checkpointTool, args, { env, timeoutMs: checkpointTimeoutMs });
    if (run.kind === 'ok') return ok(true);
    const e = runError(run, `cuda-checkpoint ${args.join(' ')}`, checkpointMissing, checkpointTimeoutMs);
    e.context = { ...e.context, pid, action };
    return err(e);
  }

  function checkPid(pid: number): Result<true> {
    if (Number.isInteger(pid) && pid > 0) return ok(true);
    return err(
      tesseraError('TESSERA_E_INTERNAL', `cuda-checkpoint: ${pid} is not a pid`, {
        context: { pid: String(pid) },
      }),
    );
  }

  return {
    kind: opts.kind,

    async discover(): Promise<Result<GpuInventory>> {
      const run = await runTool(smi, ['-q', '-x'], { env, timeoutMs: commandTimeoutMs });
      if (run.kind !== 'ok') return err(runError(run, 'nvidia-smi -q -x', smiMissing, commandTimeoutMs));
      return parseSmiXml(run.stdout);
    },

    sample(intervalMs: number, handlers: SampleHandlers): SampleStream {
      const interval = Math.max(1, Math.round(intervalMs));
      const report = (e: TesseraError) => handlers.onError?.(e);
      const grouper = new SampleGrouper({ intervalMs: interval, now, emit: (s) => handlers.onSample(s) });
      // One process per query, each for the agent's lifetime: every stream prints one kind of row, so
      // a line's kind is never guessed from its column count, and one stream's death spares the other.
      const common = { file: smi, env, backoff, now, onError: report, missingMessage: smiMissing };
      // The two queries differ only in their fields and what a row is parsed into.
      const queryStream = <T>(
        query: 'query-gpu' | 'query-compute-apps',
        fields: readonly string[],
        parse: (line: string) => Result<T>,
        take: (row: T) => void,
      ) =>
        superviseLineStream({
          ...common,
          label: `nvidia-smi --${query}`,
          args: [`--${query}=${fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(interval)],
          onLine: (line) => {
            const r = parse(line);
            if (r.ok) take(r.value);
            else report(r.error);
          },
        });
      const gpuStream = queryStream('query-gpu', GPU_QUERY_FIELDS, parseGpuCsvLine, (row) =>
        grouper.gpuLine(row),
      );
      const appsStream = queryStream('query-compute-apps', APPS_QUERY_FIELDS, parseAppsCsvLine, (row) =>
        grouper.appsLine(row),
      );
      return {
        async stop() {
          await Promise.all([gpuStream.stop(), appsStream.stop()]);
          grouper.close();
        },
      };
    },

    async swapSupport(): Promise<Result<true>> {
      const run = await runTool(checkpointTool, ['--help'], { env, timeoutMs: commandTimeoutMs });
      if (run.kind !== 'ok') {
        return err(runError(run, 'cuda-checkpoint --help', checkpointMissing, commandTimeoutMs));
      }
      const help = `${run.stdout}\n${run.stderr}`;
      // r550's tool only has --toggle; swap drives lock / checkpoint / restore / unlock separately,
      // which r570 added, so an old tool would fail at the first swap rather than here.
      if (!help.includes('--action')) {
        return err(
          gpuError(
            `cuda-checkpoint at ${checkpointTool} has no --action (lock / checkpoint / restore / unlock); GPU swap needs the tool from driver r570 or later`,
            { command: 'cuda-checkpoint --help' },
          ),
        );
      }
      return ok(true);
    },

    async checkpoint(pid: number): Promise<Result<true>> {
      const valid = checkPid(pid);
      if (!valid.ok) return valid;
      const locked = await cudaCheckpoint('lock', pid);
      if (!locked.ok) return locked;
      const saved = await cudaCheckpoint('checkpoint', pid);
      if (saved.ok) return saved;
      // A locked process blocks in every CUDA call until unlocked: give it back its GPU rather than
      // leave it hung, and report the checkpoint failure either way.
      const unlocked = await cudaCheckpoint('unlock', pid);
      saved.error.context = { ...saved.error.context, unlockedAfterFailure: unlocked.ok };
      return saved;
    },

    async restore(pid: number): Promise<Result<true>> {
      const valid = checkPid(pid);
      if (!valid.ok) return valid;
      const restored = await cudaCheckpoint('restore', pid);
      if (!restored.ok) return restored;
      return cudaCheckpoint('unlock', pid);
    },

    async checkpointState(pid: number): Promise<Result<CheckpointState>> {
      const valid = checkPid(pid);
      if (!valid.ok) return valid;
      const args = ['--get-state', '--pid', String(pid)];
      const command = `cuda-checkpoint ${args.join(' ')}`;
      const run = await runTool(checkpointTool, args, { env, timeoutMs: commandTimeoutMs });
      if (run.kind !== 'ok') return err(runError(run, command, checkpointMissing, commandTimeoutMs));
      const state = run.stdout.trim();
      if (isCheckpointState(state)) return ok(state);
      return err(
        gpuError(`${command} printed ${JSON.stringify(state)}, not a checkpoint state`, { command, pid }),
      );
    },
  };
}
