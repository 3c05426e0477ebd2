/**
 * The runner over a runtime whose start takes a while (a container's image pull), scripted by the
 * test: `starting` until the launch settles, the launch error as the pod's end, a stop while starting
 * aborting the launch, the runtime's progress as pod events, and a pull credential that never
 * reaches the checkpoint or a caller.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointPath, readCheckpoint } from '../../../agent/runner/checkpoint.ts';
import { readLogTail } from '../../../agent/runner/logs.ts';
import { createRunner, type PodRuntimeEvent, type Runner } from '../../../agent/runner/runner.ts';
import type { PodStatus } from '../../../agent/runner/types.ts';
import type {
  LaunchedPod,
  LaunchRequest,
  PodEnd,
  PodRuntime,
  RuntimeRef,
} from '../../../agent/runtime/types.ts';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import { until } from '../../helpers/wait.ts';
import { memoryLogger, NODE, podSpec, value } from './helpers.ts';

/** A runtime whose launches the test settles by hand; its "pods" are bookkeeping, no processes. */
function scriptedRuntime() {
  const launches: { req: LaunchRequest; settle(r: Result<LaunchedPod>): void }[] = [];
  const live = new Set<number>();
  const ends = new Map<number, (e: PodEnd) => void>();
  const released: RuntimeRef[] = [];
  let nextPid = 90_000;
  const runtime: PodRuntime = {
    kind: 'container',
    launch: (req) =>
      new Promise((resolve) => {
        req.signal.addEventListener('abort', () =>
          resolve(err(tesseraError('TESSERA_E_CONFLICT', 'ImagePullAborted: stopped while pulling'))),
        );
        launches.push({ req, settle: resolve });
      }),
    adopt: async () => ({ ended: { exitCode: null, signal: null, reason: null } }),
    signal(ref, sig) {
      if (!live.delete(ref.pid)) return;
      ends.get(ref.pid)?.({ exitCode: null, signal: sig, reason: null });
    },
    alive: (ref) => live.has(ref.pid),
    pids: (ref) => (live.has(ref.pid) ? [ref.pid] : []),
    freeze: () => ok(undefined),
    release: async (ref) => {
      released.push(ref);
    },
  };
  /** Settles launch `i` as a running pod. */
  const run = (i: number): RuntimeRef => {
    const pid = nextPid++;
    const ref: RuntimeRef = {
      kind: 'container',
      id: `c${pid}`,
      name: `n${pid}`,
      pid,
      startTimeTicks: 7,
      cgroup: null,
    };
    live.add(pid);
    const ended = new Promise<PodEnd>((r) => ends.set(pid, r));
    launches[i]?.settle(ok({ ref, ended }));
    return ref;
  };
  return { runtime, launches, run, released };
}

let dataDir = '';
let runner: Runner | null = null;
afterEach(() => {
  runner?.close();
  runner = null;
  rmSync(dataDir, { recursive: true, force: true });
});

function make(rt: PodRuntime): { runner: Runner; statuses: PodStatus[]; events: PodRuntimeEvent[] } {
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-seam-'));
  const statuses: PodStatus[] = [];
  const events: PodRuntimeEvent[] = [];
  runner = createRunner({
    dataDir,
    runtime: rt,
    node: NODE,
    env: { PATH: '/usr/bin:/bin' },
    onStatus: (s) => statuses.push(s),
    onEvent: (e) => events.push(e),
    stopPollMs: 5,
    log: memoryLogger().log,
  });
  return { runner, statuses, events };
}

const CREDENTIAL = { server: 'registry.example:5000', username: 'bot', password: 'hunter2-pull-secret' };

describe('runner over a runtime with a slow start', () => {
  it('is starting until the launch resolves, then running; progress becomes events and pod notes', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    expect(value(h.runner.start(podSpec({ command: ['serve'], image: 'x:1' }))).state).toBe('starting');
    await until(() => rt.launches.length === 1, 'the launch');
    rt.launches[0]?.req.onEvent('image-pulling', 'pulling x:1', { attempt: 1 });
    rt.launches[0]?.req.onEvent('image-pulled', 'pulled x:1 in 2.1 s', { bytes: 1234 });
    expect(h.runner.get('p1')?.state).toBe('starting');
    expect(h.runner.freeze('p1', true).ok).toBe(false);
    const ref = rt.run(0);
    await until(() => h.runner.get('p1')?.state === 'running', 'running');
    expect(h.runner.get('p1')).toMatchObject({ pid: ref.pid, startTimeTicks: 7 });
    expect(h.statuses.map((s) => s.state)).toEqual(['starting', 'running']);
    expect(h.events).toEqual([
      { podId: 'p1', kind: 'image-pulling', message: 'pulling x:1', numbers: { attempt: 1 } },
      { podId: 'p1', kind: 'image-pulled', message: 'pulled x:1 in 2.1 s', numbers: { bytes: 1234 } },
    ]);
    expect(readLogTail(h.runner.podDir('p1'), 4096, 'events')).toContain('image-pulled: pulled x:1 in 2.1 s');
    expect(JSON.parse(readFileSync(checkpointPath(dataDir), 'utf8')).pods[0].ref).toEqual(ref);
  });

  it('a container that ended before its pid was seen (pid 0) has no pid, and its checkpoint reads back', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['true'], image: 'x:1' })));
    await until(() => rt.launches.length === 1, 'the launch');
    const ref: RuntimeRef = {
      kind: 'container',
      id: 'quick',
      name: 'n-quick',
      pid: 0,
      startTimeTicks: 0,
      cgroup: null,
    };
    rt.launches[0]?.settle(ok({ ref, ended: Promise.resolve({ exitCode: 0, signal: null, reason: null }) }));
    await until(() => h.runner.get('p1')?.state === 'exited', 'the end');
    expect(h.runner.get('p1')).toMatchObject({ pid: null, startTimeTicks: null, exitCode: 0 });
    expect(readCheckpoint(checkpointPath(dataDir)).ok).toBe(true);
  });

  it('a launch error ends the pod exited with the error as its reason', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['serve'], image: 'nope:1' })));
    await until(() => rt.launches.length === 1, 'the launch');
    rt.launches[0]?.settle(err(tesseraError('TESSERA_E_INVALID_SPEC', 'ImagePullFailed: manifest unknown')));
    await until(() => h.runner.get('p1')?.state === 'exited', 'the end');
    expect(h.runner.get('p1')).toMatchObject({
      pid: null,
      exitCode: null,
      reason: 'ImagePullFailed: manifest unknown',
    });
  });

  it('a stop while starting aborts the launch, and the pod ends with the stop reason', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['serve'], image: 'big:1' })));
    await until(() => rt.launches.length === 1, 'the launch');
    const stopped = value(await h.runner.stop('p1', 'scaled down'));
    expect(rt.launches[0]?.req.signal.aborted).toBe(true);
    expect(stopped).toMatchObject({ state: 'exited', pid: null, reason: 'scaled down' });
  });

  it('a launch that wins the race with a stop is stopped at once', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['serve'], image: 'x:1' })));
    await until(() => rt.launches.length === 1, 'the launch');
    const ref = rt.run(0);
    const stopped = value(await h.runner.stop('p1', 'reassigned'));
    expect(stopped).toMatchObject({ state: 'exited', reason: 'reassigned', signal: 'SIGTERM' });
    expect(rt.runtime.alive(ref)).toBe(false);
    await until(() => rt.released.length === 1, 'the release');
  });

  it('a restarted runner releases the ended pods of its checkpoint again (the last agent may have died inside a release)', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['serve'], image: 'x:1' })));
    await until(() => rt.launches.length === 1, 'the launch');
    const ref = rt.run(0);
    value(await h.runner.stop('p1', 'done'));
    h.runner.close();
    const next = scriptedRuntime();
    runner = createRunner({
      dataDir,
      runtime: next.runtime,
      node: NODE,
      env: { PATH: '/usr/bin:/bin' },
      onStatus: () => {},
      log: memoryLogger().log,
    });
    const report = value(await runner.adopt());
    expect(report).toMatchObject({ adopted: [], ended: [] });
    await until(() => next.released.length === 1, 'the release again');
    expect(next.released[0]).toEqual(ref);
  });

  it('gives the runtime the pull credential but never writes it to the checkpoint or hands it out', async () => {
    const rt = scriptedRuntime();
    const h = make(rt.runtime);
    value(h.runner.start(podSpec({ command: ['serve'], image: 'private:1', pullCredential: CREDENTIAL })));
    await until(() => rt.launches.length === 1, 'the launch');
    expect(rt.launches[0]?.req.spec.pullCredential).toEqual(CREDENTIAL);
    rt.run(0);
    await until(() => h.runner.get('p1')?.state === 'running', 'running');
    const file = readFileSync(checkpointPath(dataDir), 'utf8');
    expect(file).not.toContain('hunter2');
    expect(file).not.toContain('pullCredential');
    expect(JSON.parse(file).pods[0].spec.image).toBe('private:1');
    expect(h.runner.specOf('p1')).not.toHaveProperty('pullCredential');
  });
});
