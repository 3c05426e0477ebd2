/**
 * Running the GPU tools through execa: once with a timeout (`nvidia-smi -q -x`, `cuda-checkpoint`),
 * or as a long-lived line stream that is restarted with exponential backoff when it dies
 * (`nvidia-smi ... -lms N`). Knows nothing about what the tools print; nvidia.ts does.
 */
import { createInterface } from 'node:readline';
import { ExecaError, execa } from 'execa';
import { type TesseraError, tesseraError } from '../../common/errors.ts';

/** How a one-shot run ended. `missing`: the binary is not there (or not executable). */
export type ToolRun =
  | { kind: 'ok'; stdout: string; stderr: string }
  | { kind: 'missing' }
  | { kind: 'timeout'; stderr: string }
  | { kind: 'failed'; exitCode: number | null; signal: string | null; stdout: string; stderr: string };

/** Options shared by one-shot runs and streams. */
export interface ToolOptions {
  /** Added to the agent's environment (the sim backend's state directory, for one). */
  env?: Record<string, string> | undefined;
}

/** Spawn failures that mean "this binary cannot be run here", as opposed to "it ran and failed". */
const NOT_RUNNABLE = new Set(['ENOENT', 'EACCES', 'ENOTDIR']);

function outputText(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Runs `file args` once; never throws. */
export async function runTool(
  file: string,
  args: readonly string[],
  opts: ToolOptions & { timeoutMs: number },
): Promise<ToolRun> {
  try {
    const r = await execa(file, args, { env: opts.env, timeout: opts.timeoutMs, stdin: 'ignore' });
    return { kind: 'ok', stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    if (!(e instanceof ExecaError)) throw e;
    if (e.code !== undefined && NOT_RUNNABLE.has(e.code)) return { kind: 'missing' };
    if (e.timedOut) return { kind: 'timeout', stderr: outputText(e.stderr) };
    return {
      kind: 'failed',
      exitCode: e.exitCode ?? null,
      signal: e.signal ?? null,
      stdout: outputText(e.stdout),
      stderr: outputText(e.stderr),
    };
  }
}

/** What a failed run said, trimmed to one readable line for an error message. */
export function runOutput(run: { stdout?: string; stderr: string }): string {
  const text = `${run.stderr.trim()} ${run.stdout?.trim() ?? ''}`.trim().replace(/\s+/g, ' ');
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

/** A tool's restart delays, without jitter: the first is initialMs, each next one doubles, up to maxMs. */
export interface RestartBackoff {
  initialMs: number;
  maxMs: number;
}

/** 500 ms doubling to 10 s: quick to recover from a blip, cheap when the driver is gone for good. */
export const TOOL_RESTART_BACKOFF: RestartBackoff = { initialMs: 500, maxMs: 10_000 };

/** The delay before the next restart, given the previous one (null: first failure after a healthy run). */
export function nextBackoffMs(previousMs: number | null, opts: RestartBackoff): number {
  return previousMs === null ? opts.initialMs : Math.min(opts.maxMs, previousMs * 2);
}

/** A supervised stream: which process, what to call per line, and how to report deaths. */
export interface LineStreamOptions extends ToolOptions {
  /** Names the stream in messages, e.g. `nvidia-smi --query-gpu`. */
  label: string;
  file: string;
  args: readonly string[];
  backoff: RestartBackoff;
  now: () => number;
  onLine: (line: string) => void;
  onError: (error: TesseraError) => void;
  /** The message when the binary is missing (it tells the user what to install). */
  missingMessage: string;
}

/** A running supervised stream. */
export interface LineStream {
  /** Stops restarting and ends the current process; resolves once it has exited. */
  stop(): Promise<void>;
}

interface Exit {
  missing: boolean;
  exitCode: number | null;
  signal: string | null;
}

function exitOf(e: unknown): Exit {
  if (!(e instanceof ExecaError)) return { missing: false, exitCode: null, signal: null };
  return {
    missing: e.code !== undefined && NOT_RUNNABLE.has(e.code),
    exitCode: e.exitCode ?? null,
    signal: e.signal ?? null,
  };
}

/** Starts `file args` and keeps it running: one process at a time, restarted with backoff when it exits. */
export function superviseLineStream(opts: LineStreamOptions): LineStream {
  let stopped = false;
  let backoffMs: number | null = null;
  let restartTimer: NodeJS.Timeout | undefined;
  let current: { kill(): void; exited: Promise<void> } | undefined;

  const start = (): void => {
    const startedAt = opts.now();
    const sub = execa(opts.file, opts.args, { env: opts.env, stdin: 'ignore', buffer: false });
    // Keep only the tail of stderr: the stream may run for weeks, the last words are what explain a death.
    let stderrTail = '';
    sub.stderr.setEncoding('utf8');
    sub.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    createInterface({ input: sub.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      if (!stopped && line.trim() !== '') opts.onLine(line);
    });
    const exited = sub.then(
      (): Exit => ({ missing: false, exitCode: 0, signal: null }),
      (e: unknown) => exitOf(e),
    );
    current = {
      kill: () => sub.kill(),
      exited: exited.then(() => undefined),
    };
    void exited.then((exit) => {
      if (stopped) return;
      // A process that ran a while was healthy: its death starts a fresh backoff series.
      if (opts.now() - startedAt >= opts.backoff.maxMs) backoffMs = null;
      backoffMs = nextBackoffMs(backoffMs, opts.backoff);
      opts.onError(deathError(opts, exit, stderrTail, backoffMs));
      restartTimer = setTimeout(start, backoffMs);
    });
  };

  start();
  return {
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      const c = current;
      if (c === undefined) return;
      c.kill();
      await c.exited;
    },
  };
}

function deathError(opts: LineStreamOptions, exit: Exit, stderr: string, restartInMs: number): TesseraError {
  const context: Record<string, string | number> = { stream: opts.label, binary: opts.file, restartInMs };
  if (exit.exitCode !== null) context.exitCode = exit.exitCode;
  if (exit.signal !== null) context.signal = exit.signal;
  if (exit.missing) {
    return tesseraError('TESSERA_E_GPU_DRIVER', `${opts.missingMessage}; retrying in ${restartInMs} ms`, {
      context,
    });
  }
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const said = runOutput({ stderr });
  return tesseraError(
    'TESSERA_E_GPU_DRIVER',
    `${opts.label} stream ${how}${said === '' ? '' : ` (${said})`}; restarting in ${restartInMs} ms`,
    { context },
  );
}
