/**
 * Shared by the container runtime's podman tests: whether podman runs here, a busybox image built
 * from the host's static busybox (no registry needed), and a pod request over temp log files.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodSpec } from '../../../../agent/runner/types.ts';
import type { LaunchRequest, RuntimeEventKind } from '../../../../agent/runtime/types.ts';
import { createLogger } from '../../../../common/log.ts';

/** Our own image name, so another suite's `localhost/tessera-test/*` images never change under us. */
export const BUSYBOX = 'localhost/tessera-ctr-test/busybox:1';

/** Why the podman tests cannot run here, or null when they can (root and a working podman). */
export function podmanUnavailable(): string | null {
  if (process.platform !== 'linux') return 'podman tests need Linux';
  if (process.getuid?.() !== 0) return 'the container runtime is rootful podman: run the tests as root';
  try {
    execFileSync('podman', ['version', '--format', '{{.Client.Version}}'], { stdio: 'pipe' });
  } catch {
    return 'podman is not installed (apt install podman runc)';
  }
  return null;
}

/** Imports a busybox image from /bin/busybox unless present. */
export function ensureBusybox(): void {
  try {
    execFileSync('podman', ['image', 'exists', BUSYBOX], { stdio: 'pipe' });
    return;
  } catch {
    // Build it.
  }
  const root = mkdtempSync(join(tmpdir(), 'tessera-ctr-bb-'));
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'tmp'));
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  for (const c of [
    'sh',
    'sleep',
    'cat',
    'echo',
    'tail',
    'setsid',
    'kill',
    'true',
    'false',
    'env',
    'dd',
    'yes',
  ]) {
    symlinkSync('busybox', join(root, 'bin', c));
  }
  const tar = `${root}.tar`;
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  execFileSync('podman', ['import', tar, BUSYBOX], { stdio: 'pipe' });
  rmSync(root, { recursive: true, force: true });
  rmSync(tar, { force: true });
}

/** A quiet logger. */
export const quietLogger = createLogger({ stream: { write: () => {} } });

/** A spec for a busybox pod; `podId` is unique per call so parallel suites never share a name. */
export function busyboxSpec(command: string[], over: Partial<PodSpec> = {}): PodSpec {
  return {
    podId: `ctrtest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    workload: 'w',
    project: 'p',
    epoch: 1,
    command,
    env: {},
    grants: [],
    priority: 0,
    graceSeconds: 1,
    image: BUSYBOX,
    ...over,
  };
}

const tempDirs: string[] = [];

/** Removes the pod dirs `podRequest` made (call in afterAll). */
export function removePodDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A request with temp stdout/stderr files and an event log; `close` closes the fds. */
export function podRequest(spec: PodSpec, env: Record<string, string> = { PATH: '/bin' }) {
  const podDir = mkdtempSync(join(tmpdir(), 'tessera-ctr-pod-'));
  tempDirs.push(podDir);
  const stdoutPath = join(podDir, 'stdout.log');
  const stderrPath = join(podDir, 'stderr.log');
  const stdoutFd = openSync(stdoutPath, 'a');
  const stderrFd = openSync(stderrPath, 'a');
  const events: { kind: RuntimeEventKind; message: string; numbers?: Readonly<Record<string, number>> }[] =
    [];
  const ac = new AbortController();
  const req: LaunchRequest = {
    spec,
    podDir,
    stdoutFd,
    stderrFd,
    env,
    onEvent: (kind, message, numbers) =>
      events.push(numbers === undefined ? { kind, message } : { kind, message, numbers }),
    signal: ac.signal,
  };
  return {
    req,
    events,
    abort: () => ac.abort(),
    stdout: () => readFileSync(stdoutPath, 'utf8'),
    stderr: () => readFileSync(stderrPath, 'utf8'),
    close: () => {
      closeSync(stdoutFd);
      closeSync(stderrFd);
    },
  };
}

/** Polls `f` until true or `ms` passes. */
export async function until(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return f();
}
