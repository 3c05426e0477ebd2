/** A process runtime for tests: a temp pod root and a cgroup parent of its own, both removed by `cleanup`. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cgroupPids,
  detectCgroupLayout,
  killCgroup,
  type PodCgroup,
  removeCgroupParent,
  removePodCgroup,
} from '../../../agent/runtime/cgroup.ts';
import type { IdRange } from '../../../agent/runtime/process/ids.ts';
import { createProcessRuntime } from '../../../agent/runtime/process/runtime.ts';
import type { PodRuntime } from '../../../agent/runtime/types.ts';
import { createLogger, type Logger } from '../../../common/log.ts';

/**
 * SIGKILLs whatever still runs under `cgroupParent` and removes its cgroups (and `tessera-test` once
 * empty). Async on purpose: a killed pod that was this process's child stays in its cgroup until our
 * event loop reaps it, and rmdir fails until then.
 */
export async function killAndRemoveCgroups(cgroupParent: string): Promise<void> {
  const layout = detectCgroupLayout();
  // The parent as one cgroup: killing and removing it reaches every pod cgroup below it.
  const all: PodCgroup = {
    unified: layout.unified === null ? null : join(layout.unified, cgroupParent),
    v1: Object.fromEntries(Object.entries(layout.v1).map(([c, root]) => [c, join(root, cgroupParent)])),
  };
  const deadline = Date.now() + 3000;
  for (;;) {
    if (cgroupPids(all).length > 0) killCgroup(all);
    else if (removePodCgroup(all).ok || Date.now() > deadline) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  // `tessera-test` itself stays while another test process still has its parent under it.
  removeCgroupParent(layout, 'tessera-test');
}

/** A test's runtime and what to remove after it. */
export interface TestRuntime {
  runtime: PodRuntime;
  podRoot: string;
  cgroupParent: string;
  /** SIGKILLs whatever still runs in the test's cgroups, removes them and the pod root. */
  cleanup(): Promise<void>;
}

let counter = 0;

/**
 * A uid range of this test process's own (vitest runs files in parallel processes, each with its
 * runtime), so pods of two test files never share a uid; null where the tests do not run as root.
 */
export function testUidRange(): IdRange | null {
  if (process.getuid?.() !== 0) return null;
  const first = 300_000 + (process.pid % 2000) * 64;
  return { first, last: first + 63 };
}

/**
 * A process runtime over a temp pod root. `uidRange` null (the default here, unlike the agent's):
 * pods run as the test's own user, for tests of the runner rather than of isolation.
 */
export function testRuntime(
  opts: { uidRange?: IdRange | null; adoptPollMs?: number; log?: Logger } = {},
): TestRuntime {
  const podRoot = mkdtempSync(join(tmpdir(), 'tessera-pods-'));
  const cgroupParent = `tessera-test/${process.pid}-${++counter}`;
  const runtime = createProcessRuntime({
    podRoot,
    cgroupParent,
    uidRange: opts.uidRange ?? null,
    adoptPollMs: opts.adoptPollMs ?? 50,
    log: opts.log ?? createLogger({ stream: { write: () => {} } }),
  });
  return {
    runtime,
    podRoot,
    cgroupParent,
    async cleanup() {
      await killAndRemoveCgroups(cgroupParent);
      rmSync(podRoot, { recursive: true, force: true });
    },
  };
}

/**
 * `tessera agent` flags that keep a test's agent process to its own pod root, sim state (outside its
 * 0700 data dir, so pods of other uids reach it), cgroups and uids under `root`; `cleanup` kills what
 * is left in those cgroups and removes them.
 */
export function agentRuntimeFlags(root: string): {
  args: string[];
  simDir: string;
  cleanup(): Promise<void>;
} {
  const range = testUidRange();
  const simDir = join(root, 'sim');
  const cgroupParent = `tessera-test/${process.pid}-${++counter}`;
  return {
    args: [
      '--sim-state',
      simDir,
      '--pod-root',
      join(root, 'pods'),
      '--cgroup-parent',
      cgroupParent,
      '--pod-uid-range',
      range === null ? 'agent' : `${range.first}-${range.last}`,
    ],
    simDir,
    cleanup: () => killAndRemoveCgroups(cgroupParent),
  };
}
