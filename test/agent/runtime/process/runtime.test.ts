/**
 * The process runtime on this host: a pod in its cgroups from its first instruction, as its own uid in
 * its own 0700 dir, with its limits written; stop by its cgroup reaching a `setsid` grandchild; a pod
 * over its memory limit ending `OOMKilled`; freeze; adopt; release; and the process-group fallback
 * where there is no cgroup. Needs root (cgroups, setpriv), as the agent does.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime, readProcStat } from '../../../../agent/runner/proc.ts';
import type { PodSpec } from '../../../../agent/runner/types.ts';
import { cgroupPids } from '../../../../agent/runtime/cgroup.ts';
import { createProcessRuntime, REASON_OOM_KILLED } from '../../../../agent/runtime/process/runtime.ts';
import type { LaunchedPod, PodRuntime, RuntimeRef } from '../../../../agent/runtime/types.ts';
import { createLogger } from '../../../../common/log.ts';
import { until } from '../../../helpers/wait.ts';
import { type TestRuntime, testRuntime } from '../helpers.ts';

const asRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function runtimeFor(opts: Parameters<typeof testRuntime>[0] = {}): TestRuntime {
  const rt = testRuntime(opts);
  cleanups.push(() => rt.cleanup());
  return rt;
}

function spec(partial: Partial<PodSpec> & Pick<PodSpec, 'command'>): PodSpec {
  return {
    podId: 'p1',
    workload: 'w',
    project: 'p',
    epoch: 1,
    env: {},
    grants: [],
    priority: 0,
    graceSeconds: 1,
    ...partial,
  };
}

/** Launches `s` with stdout to a temp file; returns the pod and a reader of its output. */
async function launch(runtime: PodRuntime, s: PodSpec): Promise<LaunchedPod & { out(): string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-rt-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const fds = [openSync(join(dir, 'out'), 'w'), openSync(join(dir, 'err'), 'w')];
  const r = await runtime.launch({
    spec: s,
    podDir: dir,
    stdoutFd: fds[0] ?? -1,
    stderrFd: fds[1] ?? -1,
    env: { PATH: '/usr/bin:/bin' },
    onEvent: () => {},
    signal: new AbortController().signal,
  });
  for (const fd of fds) closeSync(fd);
  if (!r.ok) throw new Error(r.error.message);
  cleanups.push(() => runtime.release(r.value.ref));
  return { ...r.value, out: () => readFileSync(join(dir, 'out'), 'utf8') };
}

const gone = (pid: number): boolean => {
  const st = readProcStat(pid)?.state;
  return st === undefined || st === 'Z';
};
const procStatus = (pid: number, field: string): string =>
  /^(\w+):\s+(.*)$/m.exec(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`)) ?? '',
  )?.[2] ?? '';
const cgroupOf = (ref: RuntimeRef) => {
  if (ref.cgroup === null) throw new Error('expected a cgroup');
  return ref.cgroup;
};

describe.skipIf(!asRoot)('process runtime (root, cgroups)', () => {
  it('runs the pod in its cgroups, as its own uid and gid with no supplementary groups, in its own 0700 dir', async () => {
    const rt = runtimeFor({ uidRange: { first: 410_000, last: 410_009 } });
    const pod = await launch(
      rt.runtime,
      spec({
        command: [
          '/bin/sh',
          '-c',
          'id -u; id -g; id -G; pwd; echo "$HOME"; cat /proc/self/cgroup; exec sleep 30',
        ],
      }),
    );
    await until(() => pod.out().includes('freezer'), 'output');
    const [uid, gid, groups, cwd, home] = pod.out().split('\n');
    expect([uid, gid, groups]).toEqual(['410000', '410000', '410000']);
    expect(cwd).toBe(join(rt.podRoot, 'p1'));
    // Not the agent's HOME, which this uid could not write.
    expect(home).toBe(join(rt.podRoot, 'p1'));
    const st = statSync(join(rt.podRoot, 'p1'));
    expect([st.uid, st.mode & 0o777]).toEqual([410_000, 0o700]);
    expect(statSync(rt.podRoot).mode & 0o777).toBe(0o711);
    // Every hierarchy names the pod's own cgroup: it was joined before the command ran.
    expect(pod.out()).toMatch(new RegExp(`memory:/${rt.cgroupParent}/p1-e1$`, 'm'));
    expect(pod.out()).toMatch(new RegExp(`freezer:/${rt.cgroupParent}/p1-e1$`, 'm'));
    expect(rt.runtime.pids(pod.ref)).toEqual([pod.ref.pid]);
    expect(procStatus(pod.ref.pid, 'NoNewPrivs')).toBe('1');
    expect(pod.ref).toMatchObject({
      kind: 'process',
      uid: 410_000,
      gid: 410_000,
      startTimeTicks: processStartTime(pod.ref.pid),
    });
  });

  it('gives two live pods two uids, honours runAsUser, and hands a released uid out again once the range comes round', async () => {
    const rt = runtimeFor({ uidRange: { first: 410_100, last: 410_102 } });
    const a = await launch(rt.runtime, spec({ podId: 'a', command: ['sleep', '30'] }));
    const b = await launch(rt.runtime, spec({ podId: 'b', command: ['sleep', '30'] }));
    const c = await launch(
      rt.runtime,
      spec({ podId: 'c', command: ['sleep', '30'], runAsUser: 4242, runAsGroup: 4343 }),
    );
    const ids = (ref: RuntimeRef) => (ref.kind === 'process' ? [ref.uid, ref.gid] : []);
    expect([ids(a.ref), ids(b.ref), ids(c.ref)]).toEqual([
      [410_100, 410_100],
      [410_101, 410_101],
      [4242, 4343],
    ]);
    // The recorded pid is the wrapper's, which becomes the command once setpriv has dropped to the user.
    await until(() => procStatus(c.ref.pid, 'Uid').split(/\s+/)[0] === '4242', 'the pod as uid 4242');
    expect(procStatus(c.ref.pid, 'Gid').split(/\s+/)[0]).toBe('4343');
    rt.runtime.signal(a.ref, 'SIGKILL');
    await a.ended;
    await rt.runtime.release(a.ref);
    expect(existsSync(join(rt.podRoot, 'a'))).toBe(false);
    const d = await launch(rt.runtime, spec({ podId: 'd', command: ['sleep', '30'] }));
    expect(ids(d.ref)).toEqual([410_102, 410_102]);
    const e = await launch(rt.runtime, spec({ podId: 'e', command: ['sleep', '30'] }));
    expect(ids(e.ref)).toEqual([410_100, 410_100]);
  });

  it('writes the memory (and memory+swap) and CPU limits into the pod cgroup', async () => {
    const rt = runtimeFor();
    const pod = await launch(rt.runtime, spec({ command: ['sleep', '30'], memoryMiB: 256, cpuMillis: 1500 }));
    const cg = cgroupOf(pod.ref);
    expect(readFileSync(join(cg.v1.memory ?? '', 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
      String(256 * 1024 * 1024),
    );
    // Memory plus swap at the same line: over it the pod is killed, not swapped out.
    const memsw = join(cg.v1.memory ?? '', 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) expect(readFileSync(memsw, 'utf8').trim()).toBe(String(256 * 1024 * 1024));
    expect(readFileSync(join(cg.v1.cpu ?? '', 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('150000');
  });

  it('stop by the cgroup reaches a setsid grandchild that ignores SIGTERM; release removes the cgroup', async () => {
    const rt = runtimeFor({ uidRange: { first: 410_200, last: 410_209 } });
    const script = `trap '' TERM; setsid sh -c "trap '' TERM; sleep 300" & echo $!; wait`;
    const pod = await launch(rt.runtime, spec({ command: ['/bin/sh', '-c', script] }));
    await until(() => pod.out().includes('\n'), 'the grandchild pid');
    const grandchild = Number(pod.out().trim());
    // A session (and group) of its own: signalling the pod's process group would miss it.
    await until(() => readProcStat(grandchild)?.session === grandchild, 'the grandchild in its own session');
    expect(rt.runtime.pids(pod.ref)).toEqual(expect.arrayContaining([pod.ref.pid, grandchild]));
    rt.runtime.signal(pod.ref, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(rt.runtime.alive(pod.ref)).toBe(true);
    const t0 = performance.now();
    rt.runtime.signal(pod.ref, 'SIGKILL');
    await until(() => !rt.runtime.alive(pod.ref), 'every process gone');
    console.log(`setsid grandchild: gone ${(performance.now() - t0).toFixed(1)} ms after the cgroup kill`);
    expect(gone(grandchild)).toBe(true);
    expect(await pod.ended).toMatchObject({ signal: 'SIGKILL', reason: null });
    await rt.runtime.release(pod.ref);
    expect(existsSync(cgroupOf(pod.ref).v1.memory ?? '')).toBe(false);
  });

  it('a pod over its memory limit is killed by its cgroup and ends OOMKilled', async () => {
    const rt = runtimeFor({ uidRange: { first: 410_300, last: 410_309 } });
    const hog = 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));';
    const pod = await launch(rt.runtime, spec({ command: [process.execPath, '-e', hog], memoryMiB: 96 }));
    const end = await pod.ended;
    expect(end).toEqual({ exitCode: null, signal: 'SIGKILL', reason: REASON_OOM_KILLED });
  });

  it('freezes and thaws the pod by its cgroup: frozen, it makes no progress', async () => {
    const rt = runtimeFor();
    const pod = await launch(
      rt.runtime,
      spec({ command: ['/bin/sh', '-c', 'while :; do echo x; sleep 0.01; done'] }),
    );
    await until(() => pod.out().length > 0, 'output');
    expect(rt.runtime.freeze(pod.ref, true).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const at = pod.out().length;
    await new Promise((r) => setTimeout(r, 200));
    expect(pod.out().length).toBe(at);
    expect(rt.runtime.freeze(pod.ref, false).ok).toBe(true);
    await until(() => pod.out().length > at, 'output after the thaw');
  });

  it('adopts a live pod (it is running again and its end is seen), and reports an ended one after killing its leftovers', async () => {
    const rt = runtimeFor();
    const pod = await launch(rt.runtime, spec({ command: ['/bin/sh', '-c', 'sleep 300 & sleep 0.3'] }));
    // A second runtime, as a restarted agent would have.
    const next = createProcessRuntime({
      podRoot: rt.podRoot,
      cgroupParent: rt.cgroupParent,
      uidRange: null,
      adoptPollMs: 20,
      log: createLogger({ stream: { write: () => {} } }),
    });
    const adopted = await next.adopt(pod.ref, spec({ command: ['x'] }));
    if (!('running' in adopted)) throw new Error('expected running');
    expect(await adopted.running.ended).toEqual({ exitCode: null, signal: null, reason: null });
    // The leader is gone, its `sleep 300` is not: adopting the ended pod kills what it left.
    expect(cgroupPids(cgroupOf(pod.ref)).length).toBe(1);
    const again = await next.adopt(pod.ref, spec({ command: ['x'] }));
    expect(again).toEqual({ ended: { exitCode: null, signal: null, reason: null } });
    await until(() => cgroupPids(cgroupOf(pod.ref)).length === 0, 'the leftover killed');
  });

  it('says why it cannot start a command, before any process exists', async () => {
    const rt = runtimeFor();
    const r = await rt.runtime.launch({
      spec: spec({ command: ['no-such-tool'] }),
      podDir: rt.podRoot,
      stdoutFd: 1,
      stderrFd: 2,
      env: { PATH: '/usr/bin:/bin' },
      onEvent: () => {},
      signal: new AbortController().signal,
    });
    expect(r.ok ? '' : r.error.message).toBe(
      'pod p1: cannot start "no-such-tool": not found or not executable (PATH /usr/bin:/bin)',
    );
    expect(existsSync(join(rt.podRoot, 'p1'))).toBe(false);
  });
});

describe('process runtime without a cgroup (fallback)', () => {
  it('runs the pod as its own process group: pids, freeze by SIGSTOP, kill by the group', async () => {
    const podRoot = mkdtempSync(join(tmpdir(), 'tessera-pods-'));
    cleanups.push(() => rmSync(podRoot, { recursive: true, force: true }));
    const lines: string[] = [];
    const runtime = createProcessRuntime({
      podRoot,
      cgroupParent: 'unused',
      uidRange: null,
      adoptPollMs: 20,
      log: createLogger({ stream: { write: (l: string) => lines.push(l) } }),
      layout: { mode: 'none', unified: null, v1: {}, unifiedControllers: [] },
    });
    expect(lines.join('')).toContain('no writable cgroup: pods run as process groups');
    const pod = await launch(runtime, spec({ command: ['/bin/sh', '-c', 'sleep 300 & wait'] }));
    expect(pod.ref).toMatchObject({ cgroup: null });
    await until(() => runtime.pids(pod.ref).length === 2, 'the child');
    expect(runtime.freeze(pod.ref, true).ok).toBe(true);
    await until(() => runtime.pids(pod.ref).every((p) => readProcStat(p)?.state === 'T'), 'all stopped');
    expect(runtime.freeze(pod.ref, false).ok).toBe(true);
    runtime.signal(pod.ref, 'SIGKILL');
    await until(() => !runtime.alive(pod.ref), 'the group gone');
    const memory = await runtime.launch({
      spec: spec({ podId: 'm', command: ['true'], memoryMiB: 64 }),
      podDir: podRoot,
      stdoutFd: 1,
      stderrFd: 2,
      env: { PATH: '/usr/bin:/bin' },
      onEvent: () => {},
      signal: new AbortController().signal,
    });
    expect(memory.ok ? '' : memory.error.message).toContain('a memory limit needs a writable cgroup');
  });
});
