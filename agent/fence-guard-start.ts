/**
 * Starts the fence guard (`fence-guard.mjs`, agent/README.md "Fence guard") for an agent data dir, or
 * finds the one already watching it: a restarted agent reuses its predecessor's guard rather than
 * start a second. The guard runs detached in its own process group with its output in
 * `<data>/fence-guard.log`, so neither the agent's exit nor a signal to the agent's group (a SIGSTOP
 * included) reaches it.
 *
 * Call it after the link has started: the deadline file then names this agent, so a guard about to
 * exit because the previous agent stopped cleanly sees the new one and stays.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import type { LogLevel } from '../common/log.ts';
import { type DefaultsOf, withDefaults } from '../common/options.ts';
import { readProcStat } from './runner/proc.ts';

/** The guard's pid file under the data dir (fence-guard.mjs creates it exclusively). */
export const FENCE_GUARD_PID_FILE = 'fence-guard.pid';
/** The guard's log under the data dir. */
export const FENCE_GUARD_LOG_FILE = 'fence-guard.log';

// The source tree (agent/), else the build (dist/agent/): tsc does not copy .mjs files.
const SCRIPT_CANDIDATES = ['./fence-guard.mjs', '../../agent/fence-guard.mjs'];

/** The guard script's path; throws naming the places looked at when the install lacks it. */
export function fenceGuardScript(): string {
  const tried = SCRIPT_CANDIDATES.map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = tried.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`fence guard script not found; looked at ${tried.join(', ')}`);
  return found;
}

/** The pid of a live guard named by the data dir's pid file, or null. */
export function runningGuardPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, FENCE_GUARD_PID_FILE), 'utf8'), 10);
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 1) return null;
  const stat = readProcStat(pid);
  if (stat === null || stat.state === 'Z') return null;
  // The pid may have been reused since the guard wrote it.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fence-guard') ? pid : null;
  } catch {
    return null;
  }
}

/** The guard watching a data dir. */
export interface FenceGuardProcess {
  pid: number;
  /** True when it was already running (a previous agent's). */
  reused: boolean;
  log: string;
}

/** Options of `ensureFenceGuard`. */
export interface FenceGuardStartOptions {
  /** The agent it guards; default `process.pid`. */
  agentPid?: number;
  /**
   * Lines below this level are left out of `<data>/fence-guard.log` (the guard's `--log-level`): the
   * agent passes its own. Default `info`. A guard already running keeps the level it started with.
   */
  logLevel?: LogLevel;
  /** Passed to the script (`--poll-ms N`, `--grace-ms N`); default none. */
  args?: string[];
}

/** The defaults of `FenceGuardStartOptions`, as its fields document them. */
const FENCE_GUARD_START_DEFAULTS = {
  agentPid: process.pid,
  logLevel: 'info',
  args: [] as string[],
} satisfies DefaultsOf<FenceGuardStartOptions>;

/** Returns the data dir's running guard, or starts one. */
export function ensureFenceGuard(
  dataDir: string,
  given: FenceGuardStartOptions = {},
): Result<FenceGuardProcess> {
  const opts = withDefaults(given, FENCE_GUARD_START_DEFAULTS);
  const log = join(dataDir, FENCE_GUARD_LOG_FILE);
  const running = runningGuardPid(dataDir);
  if (running !== null) return ok({ pid: running, reused: true, log });
  let fd: number | null = null;
  try {
    const script = fenceGuardScript();
    mkdirSync(dataDir, { recursive: true });
    fd = openSync(log, 'a', 0o600);
    // No TypeScript loader (tsx's NODE_OPTIONS) and a small young generation: the guard is tiny.
    const { NODE_OPTIONS: _, ...env } = process.env;
    const args = [script, dataDir, String(opts.agentPid), '--log-level', opts.logLevel, ...opts.args];
    const child = spawn(process.execPath, ['--max-semi-space-size=1', ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env,
      cwd: '/',
    });
    child.on('error', () => {
      // Reported below through the missing pid; an 'error' event must not crash the agent.
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${process.execPath} ${script}`);
    return ok({ pid: child.pid, reused: false, log });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INTERNAL', `the fence guard for ${dataDir} could not be started: ${why}`, {
        context: { path: dataDir },
      }),
    );
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
