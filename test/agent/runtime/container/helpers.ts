/**
 * Shared by the container runtime's podman tests: whether podman runs here, the shared busybox
 * test image, and a pod request over temp log files.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodSpec } from '../../../../agent/runner/types.ts';
import type { LaunchRequest, RuntimeEventKind } from '../../../../agent/runtime/types.ts';
import { createLogger } from '../../../../common/log.ts';
import { ensureTestImages, podmanUnavailableReason, TEST_IMAGE_REFS } from '../../../helpers/images.ts';

/** The shared test image (test/helpers/images.ts builds it once per machine, by recipe hash). */
export const BUSYBOX = TEST_IMAGE_REFS.busybox;

/** Why the podman tests cannot run here, or null when they can (root and a working podman). */
export const podmanUnavailable = podmanUnavailableReason;

/** Builds the test images unless present. */
export async function ensureBusybox(): Promise<void> {
  await ensureTestImages();
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
