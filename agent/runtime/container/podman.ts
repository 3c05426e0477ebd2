/**
 * Running the podman CLI through execa; the only file that spawns it. Daemonless podman keeps no
 * connection to hold: each command is a short process, and the containers live on under conmon.
 */
import { closeSync, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { ExecaError, execa } from 'execa';

/** How one podman command ended; never thrown. `exitCode` null: it could not start, timed out or was aborted. */
export interface PodmanRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Set when podman did not run to its end: missing binary, timeout, abort. */
  failure: string | null;
}

/** What a podman command is started with besides its arguments. */
export interface PodmanCall {
  timeoutMs: number;
  /** Aborts the command (a pull for a pod stopped meanwhile). */
  signal?: AbortSignal | undefined;
  /** Files for the command's stdout and stderr (the pod's logs); default: pipes read into the result. */
  output?: { stdoutFd: number; stderrFd: number };
}

/** A podman to run: the real one, or a fake in unit tests. */
export type Podman = (args: readonly string[], call: PodmanCall) => Promise<PodmanRun>;

/** A signal for commands nobody aborts (execa wants one or none, not undefined). */
const NEVER_ABORTED = new AbortController().signal;

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The podman at `file` (a name on PATH or a path). */
export function podmanAt(file: string): Podman {
  return async (args, call) => {
    try {
      const base = {
        stdin: 'ignore',
        timeout: call.timeoutMs,
        cancelSignal: call.signal ?? NEVER_ABORTED,
        // The agent's environment may hold its own secrets; podman needs only PATH-like basics.
        extendEnv: false,
        env: podmanEnv(),
      } as const;
      // Two calls rather than one with a `number | 'pipe'` union; and execa 9's typings accept a
      // file descriptor only as a numeric literal type (a plain `number` matches no overload), hence `as 1`.
      const r =
        call.output === undefined
          ? await execa(file, args, base)
          : await execa(file, args, {
              ...base,
              stdout: call.output.stdoutFd as 1,
              stderr: call.output.stderrFd as 2,
            });
      return { exitCode: r.exitCode ?? 0, stdout: text(r.stdout), stderr: text(r.stderr), failure: null };
    } catch (e) {
      if (!(e instanceof ExecaError)) throw e;
      const out = { stdout: text(e.stdout), stderr: text(e.stderr) };
      if (e.isCanceled) return { exitCode: null, ...out, failure: 'aborted' };
      if (e.timedOut) return { exitCode: null, ...out, failure: `timed out after ${call.timeoutMs} ms` };
      if (e.exitCode === undefined) {
        return { exitCode: null, ...out, failure: `cannot run ${file}: ${e.code ?? e.shortMessage}` };
      }
      return { exitCode: e.exitCode, ...out, failure: null };
    }
  };
}

/** The variables podman itself reads (paths, locale, its config locations); nothing else of the agent's. */
function podmanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [
    'PATH',
    'HOME',
    'LANG',
    'TMPDIR',
    'XDG_RUNTIME_DIR',
    'CONTAINERS_CONF',
    'CONTAINERS_STORAGE_CONF',
    'CONTAINERS_REGISTRIES_CONF',
  ]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** One readable line of what podman said, for an error message. */
export function podmanSaid(r: PodmanRun): string {
  const t = `${r.stderr.trim()} ${r.stdout.trim()}`
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/^Error: /, '');
  const said = t.length > 500 ? `${t.slice(0, 500)}...` : t;
  if (r.failure !== null) return said === '' ? r.failure : `${r.failure}: ${said}`;
  return said === '' ? `exit code ${r.exitCode}` : said;
}

/** The size of the file behind `fd` (where podman's own output will start). */
export function fileSize(fd: number): number {
  try {
    return fstatSync(fd).size;
  } catch {
    return 0;
  }
}

/** What was written to the file behind `fd` past `from` (podman's error), up to 4 KiB; '' when unreadable. */
export function readAppended(fd: number, from: number): string {
  try {
    const f = openSync(readlinkSync(`/proc/self/fd/${fd}`), 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(f, buf, 0, buf.length, from);
      const text = buf.subarray(0, n).toString('utf8');
      // runc prints its failure and podman repeats it on an `Error: ` line: keep podman's.
      const last = text
        .split('\n')
        .filter((l) => l.startsWith('Error: '))
        .at(-1);
      return (last ?? text)
        .trim()
        .replace(/\s+/g, ' ')
        .replace(/^Error: /, '');
    } finally {
      closeSync(f);
    }
  } catch {
    return '';
  }
}
