/**
 * The podman command lines the container runtime runs, built from a pod's spec (pure, so each
 * flag is a unit test). Secrets never reach argv, which every user of the host can read in
 * /proc/<pid>/cmdline: the environment goes through `--env-file`, a registry login through
 * `--authfile`, both files 0600 in the pod's directory and deleted once podman has read them.
 */
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import type { PodSpec } from '../../runner/types.ts';
import type { Ulimit } from './options.ts';

/** Labels on every container: what `adopt` finds a container by when its id is gone. */
export const LABEL_POD = 'tessera.pod';
export const LABEL_EPOCH = 'tessera.epoch';
export const LABEL_NODE = 'tessera.node';

/** `tessera-<podId>-e<epoch>`: unique per node, and readable in `podman ps`. */
export function containerName(podId: string, epoch: number): string {
  return `tessera-${podId}-e${epoch}`;
}

/** Everything `runArgs` needs besides the spec. */
export interface RunArgsInput {
  spec: PodSpec;
  image: string;
  name: string;
  nodeName: string;
  cgroupParent: string;
  envFile: string;
  cidFile: string;
  /** Where podman writes the host pid of the container's PID 1. */
  pidFile: string;
  ulimits: readonly Ulimit[];
  initPath: string | null;
  /** `--device` values: CDI names (`nvidia.com/gpu=<uuid>`) or device node paths. */
  devices: readonly string[];
  /** Extra binds the runtime adds (the sim GPUs' state dir), after the spec's own. */
  extraMounts: readonly { hostPath: string; containerPath: string; readOnly: boolean }[];
}

function invalid(message: string, field: string): Result<never> {
  return err(tesseraError('TESSERA_E_INVALID_SPEC', message, { field }));
}

/**
 * The arguments of `podman run -d` for one pod (without the binary itself).
 *
 * `run -d` rather than `create` + `start`: with `--log-driver passthrough` the container takes the
 * stdout and stderr of the podman process that *starts* it, and `podman start` prints the
 * container's name on its stdout, which would land in the pod's log; `run -d` prints nothing with
 * passthrough (the id comes from `--cidfile`), and is one podman process instead of two.
 *
 * `spec.command`, when given, replaces the image's ENTRYPOINT and CMD both (as a Kubernetes
 * `command` without `args` does), passed as a JSON `--entrypoint` so no shell re-splits it; an
 * empty command runs the image's own ENTRYPOINT and CMD.
 */
export function runArgs(i: RunArgsInput): Result<string[]> {
  const s = i.spec;
  const a: string[] = ['--log-level', 'error', 'run', '-d', '--pull', 'never'];
  a.push('--cidfile', i.cidFile, '--pidfile', i.pidFile, '--name', i.name);
  a.push('--label', `${LABEL_POD}=${s.podId}`, '--label', `${LABEL_EPOCH}=${s.epoch}`);
  a.push('--label', `${LABEL_NODE}=${i.nodeName}`);
  // Host networking: multi-node NCCL and the pod's own ports need the node's interfaces as they are.
  a.push('--network', 'host');
  // The container writes the runner's log files itself, so logs survive an agent restart unchanged.
  a.push('--log-driver', 'passthrough');
  a.push('--cgroup-parent', i.cgroupParent);
  a.push('--env-file', i.envFile);
  for (const u of i.ulimits) a.push('--ulimit', `${u.name}=${u.soft}:${u.hard}`);
  if (i.initPath !== null) a.push('--init', '--init-path', i.initPath);
  if (s.memoryMiB !== undefined && s.memoryMiB > 0) {
    // memory-swap equal to memory: no swap, so the limit is the pod's RAM and an excess is an OOM kill.
    a.push('--memory', `${s.memoryMiB}m`, '--memory-swap', `${s.memoryMiB}m`);
  }
  if (s.cpuMillis !== undefined && s.cpuMillis > 0) a.push('--cpus', formatCpus(s.cpuMillis));
  if (s.runAsGroup !== undefined && s.runAsUser === undefined) {
    return invalid('runAsGroup needs runAsUser in a container (podman takes --user uid:gid)', 'runAsGroup');
  }
  if (s.runAsUser !== undefined) {
    a.push('--user', s.runAsGroup === undefined ? String(s.runAsUser) : `${s.runAsUser}:${s.runAsGroup}`);
  }
  if (s.workingDir !== undefined && s.workingDir !== '') {
    if (!s.workingDir.startsWith('/')) {
      return invalid(
        `workingDir ${JSON.stringify(s.workingDir)} must be an absolute path in the container`,
        'workingDir',
      );
    }
    a.push('--workdir', s.workingDir);
  }
  for (const m of [...(s.mounts ?? []), ...i.extraMounts]) {
    for (const p of [m.hostPath, m.containerPath]) {
      // `-v` separates its fields with ':' and podman has no escape for it.
      if (!p.startsWith('/') || p.includes(':') || p.includes(',')) {
        return invalid(`mount path ${JSON.stringify(p)} must be absolute and free of ':' and ','`, 'mounts');
      }
    }
    a.push('-v', `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`);
  }
  for (const d of i.devices) a.push('--device', d);
  if (s.command.length > 0) a.push('--entrypoint', JSON.stringify(s.command));
  a.push(i.image);
  return ok(a);
}

/** Milli-cores as `--cpus` wants them: `1500` -> `1.5`. */
export function formatCpus(cpuMillis: number): string {
  return String(Math.round(cpuMillis) / 1000);
}

/**
 * The `--env-file` text: one `NAME=value` per line. Podman's format has no quoting, so a value with
 * a newline cannot be passed and is refused rather than silently cut; a name without `=` would
 * mean "copy from podman's own environment", which `NAME=` never does.
 */
export function envFileText(env: Readonly<Record<string, string>>): Result<string> {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k))
      return invalid(`environment variable name ${JSON.stringify(k)} is not valid in a container`, 'env');
    if (/[\r\n\0]/.test(v)) {
      return invalid(
        `environment variable ${k} holds a newline, which podman's --env-file cannot carry`,
        'env',
      );
    }
    lines.push(`${k}=${v}`);
  }
  return ok(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
}

/** Registry host[:port] of an image reference (`docker.io` when it names none). */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** The arguments of `podman pull` (the authfile, when given, holds the login). */
export function pullArgs(image: string, insecure: boolean, authFile: string | null): string[] {
  const a = ['pull', '--quiet'];
  if (insecure) a.push('--tls-verify=false');
  if (authFile !== null) a.push('--authfile', authFile);
  a.push(image);
  return a;
}

/** The `--authfile` JSON for one registry login (the format of `podman login`'s auth.json). */
export function authFileText(server: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return `${JSON.stringify({ auths: { [server]: { auth } } })}\n`;
}
