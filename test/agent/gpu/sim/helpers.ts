/**
 * Shared by the sim tests: a fresh state directory, the fakes run through execa exactly as the
 * nvidia backend will run them, and test workloads as real child processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import {
  initSimState,
  parseSimGpus,
  readSimRegistration,
  SIM_TOOLS,
  type SimRegistration,
  type SimState,
  simEnv,
} from '../../../../agent/gpu/sim/spec.ts';

/** A sim node: its state directory and GPUs. */
export interface SimNode {
  dir: string;
  state: SimState;
  env: Record<string, string>;
  /** Workloads started on it, killed by close(). */
  procs: Set<ResultPromise>;
  close(): Promise<void>;
}

export async function makeSimNode(spec: string): Promise<SimNode> {
  const parsed = parseSimGpus(spec);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-sim-'));
  const state = await initSimState(dir, parsed.value);
  const procs = new Set<ResultPromise>();
  return {
    dir,
    state,
    env: simEnv(dir),
    procs,
    close: async () => {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.allSettled(procs);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One run of a fake: exit code and both streams, never throwing on a non-zero exit. */
export interface ToolResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

async function runTool(file: string, args: string[], env: Record<string, string>): Promise<ToolResult> {
  // No trimming or line splitting: the parsers under test see the bytes the tool printed.
  const r = await execa(file, args, { env, reject: false, stripFinalNewline: false });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function smi(node: { env: Record<string, string> }, ...args: string[]): Promise<ToolResult> {
  return runTool(SIM_TOOLS.nvidiaSmi, args, node.env);
}

export function ckpt(node: { env: Record<string, string> }, ...args: string[]): Promise<ToolResult> {
  return runTool(SIM_TOOLS.cudaCheckpoint, args, node.env);
}

/** A running test workload and the lines it printed so far. */
export interface Workload {
  proc: ResultPromise;
  pid: number;
  lines: string[];
  /** Resolves with the first line (printed so far or later) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  registration(): Promise<SimRegistration | null>;
}

/** Starts the workload with `args` and extra env; resolves once it printed READY (or exited). */
export async function startWorkload(
  node: SimNode,
  args: string[],
  env: Record<string, string> = {},
): Promise<Workload> {
  const proc = execa(SIM_TOOLS.workload, args, {
    env: { ...node.env, ...env },
    reject: false,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  node.procs.add(proc);
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: proc.stdout! }).on('line', onLine);
  createInterface({ input: proc.stderr! }).on('line', onLine);
  const workload: Workload = {
    proc,
    pid: proc.pid!,
    lines,
    waitFor: (pattern, timeoutMs = 5000) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms; got: ${lines.join(' | ')}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    registration: () => readSimRegistration(node.dir, proc.pid!),
  };
  await Promise.race([workload.waitFor(/^READY /), proc]);
  return workload;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
