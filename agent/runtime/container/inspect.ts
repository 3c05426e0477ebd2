/**
 * `podman inspect` output as the runtime needs it, and what follows from it: the pod's cgroup in
 * each hierarchy, how an exited container ended (pure; validated once here, typed inward).
 */
import { join } from 'node:path';
import type { CgroupLayout, PodCgroup, V1Controller } from '../cgroup.ts';
import type { PodEnd } from '../types.ts';

/** The facts of one container the runtime uses. */
export interface ContainerState {
  id: string;
  name: string;
  /** Podman's status: `created`, `running`, `paused`, `exited`, `stopped`, ... */
  status: string;
  /** Host pid of the container's PID 1; 0 when it does not run. */
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  /** Podman's own error for the container (e.g. an OCI runtime failure), or ''. */
  error: string;
  /** The container's cgroup relative to each hierarchy's root; '' when it does not run. */
  cgroupPath: string;
  labels: Readonly<Record<string, string>>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Parses `podman inspect` JSON (an array, one entry per container asked for); entries it cannot read are left out. */
export function parseInspect(json: string): ContainerState[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const out: ContainerState[] = [];
  for (const c of data) {
    if (!isRecord(c) || !isRecord(c.State) || typeof c.Id !== 'string') continue;
    const st = c.State;
    const labels: Record<string, string> = {};
    const cfgLabels = isRecord(c.Config) && isRecord(c.Config.Labels) ? c.Config.Labels : {};
    for (const [k, v] of Object.entries(cfgLabels)) if (typeof v === 'string') labels[k] = v;
    out.push({
      id: c.Id,
      name: str(c.Name),
      status: str(st.Status),
      pid: num(st.Pid),
      exitCode: num(st.ExitCode),
      oomKilled: st.OOMKilled === true,
      error: str(st.Error),
      cgroupPath: str(st.CgroupPath),
      labels,
    });
  }
  return out;
}

/** True while podman counts the container as started and not ended. */
export function isRunning(s: ContainerState): boolean {
  return s.status === 'running' || s.status === 'paused' || s.status === 'stopping';
}

/**
 * How an exited container ended. Podman reports a death by signal as 128 + the signal number (as a
 * shell does); the runner gets it as the exit code, so a crash keeps what the process chose or got.
 */
export function endFromState(s: ContainerState): PodEnd {
  const signal = s.exitCode > 128 && s.exitCode < 128 + 65 ? signalName(s.exitCode - 128) : null;
  const reason = s.oomKilled ? 'OOMKilled' : s.error !== '' ? s.error : null;
  return { exitCode: s.exitCode, signal, reason };
}

const SIGNALS: Readonly<Record<number, string>> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
};

function signalName(n: number): string | null {
  return SIGNALS[n] ?? null;
}

/**
 * The container's cgroup in each hierarchy of `layout`: podman's cgroupfs manager uses the same
 * relative path (`State.CgroupPath`, e.g. `/tessera/node-a/libpod-<id>`) in the v2 hierarchy and
 * in every v1 controller, as /proc/<pid>/cgroup of a container showed on a hybrid host.
 * `exists` filters out hierarchies where that path is absent (a controller podman left out).
 */
export function cgroupFromPath(
  layout: CgroupLayout,
  cgroupPath: string,
  exists: (dir: string) => boolean,
): PodCgroup | null {
  if (cgroupPath === '' || layout.mode === 'none') return null;
  const cg: PodCgroup = { unified: null, v1: {} };
  if (layout.unified !== null) {
    const d = join(layout.unified, cgroupPath);
    if (exists(d)) cg.unified = d;
  }
  for (const [c, root] of Object.entries(layout.v1) as [V1Controller, string][]) {
    const d = join(root, cgroupPath);
    if (exists(d)) cg.v1[c] = d;
  }
  return cg.unified === null && Object.keys(cg.v1).length === 0 ? null : cg;
}

/**
 * A running process's cgroup path, relative to each hierarchy's root, from /proc/<pid>/cgroup:
 * the v2 line (`0::/tessera/node-a/libpod-<id>`), else the v1 freezer's. '' when there is none.
 */
export function cgroupPathOfProc(procCgroup: string): string {
  const lines = procCgroup.split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2 !== undefined && v2.length > 3 && v2.slice(3) !== '/') return v2.slice(3);
  const fr = lines.find((l) => /^\d+:([^:]*,)?freezer(,[^:]*)?:/.test(l));
  return fr === undefined ? '' : fr.slice(fr.indexOf(':', fr.indexOf(':') + 1) + 1);
}
