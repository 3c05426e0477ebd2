/**
 * Podman for tests: whether this machine can run containers with it (rootful, as the agent's runtime
 * does), the limits every `podman run` here needs, and one podman call with its output kept.
 */
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';

/**
 * `--ulimit` flags for every `podman run`. Rootful podman otherwise asks runc for RLIMIT_NOFILE
 * 1048576, above this process's hard limit, and raising a hard limit needs CAP_SYS_RESOURCE, which a
 * sandboxed machine (the CI's VM) withholds: runc fails with "error setting rlimit type 7: operation
 * not permitted" (type 6, RLIMIT_NPROC, once nofile is given: podman's default and anything above
 * 32768 fail there). nofile 20000 and nproc 4096 pass on the CI machine.
 */
export const PODMAN_RUN_LIMITS: readonly string[] = [
  '--ulimit',
  'nofile=20000:20000',
  '--ulimit',
  'nproc=4096:4096',
];

/** What podman said. */
export interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Generous: a pull, push or import on a loaded 2-core machine takes seconds, not minutes. */
const DEFAULT_TIMEOUT_MS = 180_000;

/** `podman ARGS`, never rejecting on a non-zero exit; `input` goes to its stdin. */
export async function podman(
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<PodmanResult> {
  const r = await execa('podman', args, {
    reject: false,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    stripFinalNewline: false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  });
  if (r.timedOut)
    throw new Error(`podman ${args.join(' ')}: no answer in ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** `podman ARGS`, its stdout when it exits 0; throws with the command and its stderr otherwise. */
export async function podmanOk(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await podman(args, opts);
  if (r.exitCode !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Containers this process started through podmanRun, by name, for removeTestContainers(). */
const containers = new Set<string>();
let containerSeq = 0;

/**
 * `podman run --rm` of `image` with the limits above and a name unique to this process, `flags`
 * before the image and `command` after it. The name lets removeTestContainers() clean up one that a
 * timeout or a killed client left behind.
 */
export function podmanRun(
  image: string,
  command: readonly string[],
  opts: { flags?: readonly string[]; timeoutMs?: number } = {},
): Promise<PodmanResult> {
  const name = `tessera-test-${process.pid}-${++containerSeq}`;
  containers.add(name);
  const args = [
    'run',
    '--rm',
    '--name',
    name,
    ...PODMAN_RUN_LIMITS,
    ...(opts.flags ?? []),
    image,
    ...command,
  ];
  return podman(args, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
}

/** Removes every container podmanRun started in this process that is still there (afterAll). */
export async function removeTestContainers(): Promise<void> {
  if (containers.size === 0) return;
  const names = [...containers];
  containers.clear();
  await podmanOk(['rm', '--force', '--ignore', '--time', '0', ...names]);
}

let unavailable: string | null | undefined;

/**
 * Why podman cannot run the runtime's tests here, or null when it can. Asked once per process
 * (`podman info` takes a fraction of a second); a sentence a skipped test can print.
 */
export function podmanUnavailableReason(): string | null {
  if (unavailable !== undefined) return unavailable;
  unavailable = probe();
  return unavailable;
}

/** Whether podman can run containers here, rootful; see podmanUnavailableReason() for why not. */
export function podmanAvailable(): boolean {
  return podmanUnavailableReason() === null;
}

const INSTALL =
  'Install it (Debian: apt-get install --no-install-recommends podman runc docker-registry apache2-utils busybox-static; .ci/run does)';

function probe(): string | null {
  if (process.platform !== 'linux')
    return `podman tests skipped: they need Linux, this is ${process.platform}.`;
  // The agent runs podman rootful; rootless podman has another image store and needs subuid maps.
  if (process.getuid?.() !== 0) return 'podman tests skipped: they run rootful podman and need root.';
  const r = spawnSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `podman tests skipped: no podman on PATH. ${INSTALL}.`;
    return `podman tests skipped: \`podman info\` failed: ${r.error.message}.`;
  }
  if (r.status !== 0) return `podman tests skipped: \`podman info\` exited ${r.status}: ${r.stderr.trim()}`;
  return null;
}
