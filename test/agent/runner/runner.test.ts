import * as fs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSize, logPath, readLogTail, rotatedPath } from '../../../agent/runner/logs.ts';
import { groupPids, readProcStat } from '../../../agent/runner/proc.ts';
import type { PodRunState } from '../../../agent/runner/types.ts';
import { until } from '../../helpers/wait.ts';
import { failure, GPU0, type Harness, harness, launched, podSpec, value } from './helpers.ts';

let h: Harness;
afterEach(() => h.cleanup());

const sh = (script: string): string[] => ['/bin/sh', '-c', script];
/** Loops in the shell without a busy wait; `sleep` children come and go in the pod's group. */
const FOREVER = 'while :; do sleep 0.05; done';

const states = (podId = 'p1'): PodRunState[] =>
  h.statuses.filter((s) => s.podId === podId).map((s) => s.state);
const stdoutOf = (podId = 'p1'): string => readLogTail(h.runner.podDir(podId), 1 << 20);

describe('runner: start, exit code and signal', () => {
  it('reports running, then the exit code; output lands in stdout.log and stderr.log', async () => {
    h = harness();
    const begun = value(
      h.runner.start(podSpec({ command: sh('sleep 0.2; echo hello; echo oops >&2; exit 3') })),
    );
    expect(begun).toMatchObject({ podId: 'p1', epoch: 1, state: 'starting', pid: null, adopted: false });
    const started = await launched(h.runner, { ok: true, value: begun });
    expect(started).toMatchObject({
      podId: 'p1',
      epoch: 1,
      state: 'running',
      exitCode: null,
      adopted: false,
    });
    expect(started.startTimeTicks).toBeGreaterThan(0);
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    expect(h.runner.get('p1')).toMatchObject({ exitCode: 3, signal: null, reason: null });
    expect(states()).toEqual(['starting', 'running', 'exited']);
    expect(stdoutOf()).toBe('hello\n');
    expect(readLogTail(h.runner.podDir('p1'), 100, 'stderr')).toBe('oops\n');
  });

  it('reports the signal that ended the pod', async () => {
    h = harness();
    value(h.runner.start(podSpec({ command: sh('kill -USR1 $$') })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    expect(h.runner.get('p1')).toMatchObject({ exitCode: null, signal: 'SIGUSR1' });
  });

  it('the pod sees its env, and runs in its own directory unless the spec names one', async () => {
    h = harness();
    const grants = [{ uuid: GPU0, gpuMilli: 500, memoryMiB: 1000, memoryLimitMiB: 2000 }];
    const print =
      'echo "$CUDA_VISIBLE_DEVICES|$TESSERA_GPU_FRACTION|$TESSERA_GPU_MEMORY_LIMIT_MIB|$MINE|$(pwd)"';
    value(h.runner.start(podSpec({ command: sh(print), grants, env: { MINE: 'x' } })));
    const other = mkdtempSync(join(tmpdir(), 'tessera-wd-'));
    value(h.runner.start(podSpec({ podId: 'p2', command: sh('pwd'), workingDir: other })));
    await until(() => h.runner.list().every((s) => s.state === 'exited'), 'both exits');
    // Its own directory is under the pod root, outside the agent's data dir (where its logs are).
    expect(stdoutOf()).toBe(`${GPU0}|0.5|2000|x|${join(h.rt.podRoot, 'p1')}\n`);
    expect(stdoutOf('p2')).toBe(`${other}\n`);
    rmSync(other, { recursive: true, force: true });
  });

  it('node env reaches every pod, TESSERA_ names included, and no spec can override a reserved one', async () => {
    h = harness({ nodeEnv: { TESSERA_SIM_STATE: '/sim/state', NODE_WIDE: 'node', TESSERA_POD_ID: 'node' } });
    const grants = [{ uuid: GPU0, gpuMilli: 1000, memoryMiB: 1000, memoryLimitMiB: 1000 }];
    const print = 'echo "$TESSERA_SIM_STATE|$NODE_WIDE|$TESSERA_POD_ID|$CUDA_VISIBLE_DEVICES"';
    const env = { TESSERA_SIM_STATE: '/elsewhere', NODE_WIDE: 'spec', CUDA_VISIBLE_DEVICES: 'all' };
    value(h.runner.start(podSpec({ command: sh(print), grants, env })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    // The spec wins only where the name is not reserved; the pod's own names win over the node's.
    expect(stdoutOf()).toBe(`/sim/state|spec|p1|${GPU0}\n`);
  });

  it('specOf gives the spec of a pod it runs or adopted, until it is forgotten', async () => {
    h = harness();
    const spec = podSpec({ command: sh(FOREVER), priority: 7, env: { MINE: 'x' } });
    value(h.runner.start(spec));
    expect(h.runner.specOf('p1')).toEqual(spec);
    expect(h.runner.specOf('nope')).toBeUndefined();
    h.runner.close();

    const next = h.restart().runner;
    value(await next.adopt());
    expect(next.specOf('p1')).toEqual(spec);
    const copy = next.specOf('p1');
    copy?.command.push('--mutated');
    expect(next.specOf('p1')?.command).toEqual(spec.command);
    value(await next.stop('p1', 'test done', 0));
    expect(next.specOf('p1')?.priority).toBe(7);
    value(next.forget('p1'));
    expect(next.specOf('p1')).toBeUndefined();
  });

  it('refuses what it cannot start, with the field at fault; a command the runtime cannot run ends the pod with why', async () => {
    h = harness();
    value(h.runner.start(podSpec({ command: ['/no/such/binary'] })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'the failed launch');
    expect(h.runner.get('p1')).toMatchObject({ state: 'exited', pid: null, exitCode: null });
    expect(h.runner.get('p1')?.reason).toContain('/no/such/binary');
    expect(h.runner.get('p1')?.reason).toContain('not found or not executable');
    const gpu = failure(
      h.runner.start(
        podSpec({
          podId: 'p2',
          command: ['true'],
          grants: [{ uuid: 'GPU-x', gpuMilli: 1000, memoryMiB: 1, memoryLimitMiB: 1 }],
        }),
      ),
    );
    expect(gpu).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field: 'grants' });
    expect(failure(h.runner.start(podSpec({ podId: '../escape', command: ['true'] }))).field).toBe('podId');
    expect(
      failure(h.runner.start(podSpec({ podId: 'p3', command: ['true'], workingDir: '/no/such/dir' }))).field,
    ).toBe('workingDir');
  });
});

describe('runner: the checkpoint at start', () => {
  it('a pod whose start cannot be recorded is killed, since the next agent could not adopt it', async () => {
    const io = {
      openSync: fs.openSync,
      writeSync: (fd: number, d: Uint8Array) => fs.writeSync(fd, d),
      fsyncSync: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
      fchmodSync: fs.fchmodSync,
      closeSync: fs.closeSync,
      renameSync: fs.renameSync,
      rmSync: fs.rmSync,
      readFileSync: (p: string) => fs.readFileSync(p, 'utf8'),
    };
    h = harness({ checkpointFs: io });
    const e = failure(h.runner.start(podSpec({ command: sh(FOREVER) })));
    expect(e.message).toContain('ENOSPC');
    // Recorded first, launched after: a start the checkpoint cannot hold never runs at all.
    expect(h.runner.get('p1')).toMatchObject({
      state: 'exited',
      pid: null,
      reason: 'not started: the runner checkpoint could not be written',
    });
    expect(h.runner.pidsOf('p1')).toEqual([]);
    expect(readdirSync(h.rt.podRoot)).toEqual([]);
  });
});

describe('runner: stop, kill, signal', () => {
  it('stop sends SIGTERM, waits the grace, then SIGKILLs the whole group: a TERM-ignoring child and grandchild both go', async () => {
    h = harness();
    // The leader ignores TERM and starts a grandchild that ignores it too (ignored signals are inherited).
    const script = `trap '' TERM; sh -c '${FOREVER}' & echo "READY $!"; ${FOREVER}`;
    const s = await launched(h.runner, h.runner.start(podSpec({ command: sh(script), graceSeconds: 0.3 })));
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready');
    const grandchild = Number(stdoutOf().split(' ')[1]);
    expect(h.runner.pidsOf('p1')).toEqual(expect.arrayContaining([s.pid, grandchild]));
    const t0 = Date.now();
    const stopped = value(await h.runner.stop('p1', 'test stop'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(stopped).toMatchObject({ state: 'exited', signal: 'SIGKILL', reason: 'test stop' });
    expect(groupPids(s.pid ?? 0)).toEqual([]);
    expect(h.runner.pidsOf('p1')).toEqual([]);
    expect(readProcStat(grandchild)?.state ?? 'gone').toMatch(/gone|Z/);
    expect(states()).toEqual(['starting', 'running', 'ready', 'stopping', 'exited']);
    expect(readLogTail(h.runner.podDir('p1'), 4096, 'events')).toContain(
      'grace over: SIGKILL to every process of the pod',
    );
  });

  it('a pod that handles SIGTERM exits within the grace with its own code', async () => {
    h = harness();
    value(
      h.runner.start(
        podSpec({ command: sh(`trap 'echo bye; exit 0' TERM; echo READY; ${FOREVER}`), graceSeconds: 5 }),
      ),
    );
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready');
    const t0 = Date.now();
    const stopped = value(await h.runner.stop('p1', 'scale down'));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(stopped).toMatchObject({ exitCode: 0, signal: null, reason: 'scale down' });
    expect(stdoutOf()).toContain('bye');
  });

  it('kill is an immediate SIGKILL to the group, reported with its reason', async () => {
    h = harness();
    value(h.runner.start(podSpec({ command: sh(`trap '' TERM; ${FOREVER}`), graceSeconds: 30 })));
    const killed = value(await h.runner.kill('p1', 'GPU OOM: used 5200 MiB > limit 4096 MiB'));
    expect(killed).toMatchObject({
      state: 'exited',
      signal: 'SIGKILL',
      reason: 'GPU OOM: used 5200 MiB > limit 4096 MiB',
    });
    expect(failure(await h.runner.stop('nope', 'x')).code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('freeze stops every process of the pod and thaw lets it go on; a frozen pod still gets its SIGTERM on stop', async () => {
    h = harness();
    await launched(
      h.runner,
      h.runner.start(
        podSpec({
          command: sh(`trap 'exit 7' TERM; while :; do echo tick; sleep 0.02; done`),
          graceSeconds: 5,
        }),
      ),
    );
    const path = logPath(h.runner.podDir('p1'), 'stdout');
    await until(() => fileSize(path) > 0, 'output');
    value(h.runner.freeze('p1', true));
    await new Promise((r) => setTimeout(r, 100));
    const frozenAt = fileSize(path);
    await new Promise((r) => setTimeout(r, 300));
    expect(fileSize(path)).toBe(frozenAt);
    value(h.runner.freeze('p1', false));
    await until(() => fileSize(path) > frozenAt, 'output after the thaw');
    value(h.runner.freeze('p1', true));
    expect(value(await h.runner.stop('p1', 'preempted'))).toMatchObject({ exitCode: 7, reason: 'preempted' });
    expect(failure(h.runner.freeze('p1', false)).code).toBe('TESSERA_E_CONFLICT');
  });
});

describe('runner: readiness and logs', () => {
  it('ready on a line starting with READY, not on one that merely contains it', async () => {
    h = harness();
    value(
      h.runner.start(
        podSpec({ command: sh(`echo 'NOT READY'; sleep 0.15; echo 'READY port=1'; ${FOREVER}`) }),
      ),
    );
    await until(() => states().includes('ready'), 'ready');
    expect(states()).toEqual(['starting', 'running', 'ready']);
    const t = h.statuses.find((s) => s.state === 'ready');
    expect(t?.pid).toBe(h.runner.get('p1')?.pid);
  });

  it('ready after the readiness delay for a pod that prints nothing', async () => {
    h = harness();
    const t0 = Date.now();
    value(h.runner.start(podSpec({ command: sh(FOREVER), readiness: { linePrefix: null, delayMs: 150 } })));
    await until(() => h.runner.get('p1')?.state === 'ready', 'ready');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('stdout rotates at the cap while the pod writes, keeping the configured number of files', async () => {
    h = harness({ logRotation: { maxBytes: 2048, maxFiles: 2 } });
    // 80 lines of 100 bytes, in bursts: 8000 bytes through a 2 KiB cap.
    const script = `i=0; while [ $i -lt 80 ]; do printf '%099d\\n' $i; i=$((i+1)); [ $((i % 8)) -eq 0 ] && sleep 0.03; done`;
    value(h.runner.start(podSpec({ command: sh(script) })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    const path = logPath(h.runner.podDir('p1'), 'stdout');
    expect(existsSync(rotatedPath(path, 1))).toBe(true);
    expect(existsSync(rotatedPath(path, 3))).toBe(false);
    for (const f of [path, rotatedPath(path, 1), rotatedPath(path, 2)].filter(existsSync)) {
      // Soft cap: one poll interval's output over at most; and never a hole of NULs from truncation.
      expect(statSync(f).size).toBeLessThanOrEqual(2 * 2048);
      expect(readFileSync(f, 'utf8')).not.toContain('\0');
    }
    expect(stdoutOf().trimEnd().split('\n').at(-1)).toBe(String(79).padStart(99, '0'));
  });

  it('a new epoch starts in a fresh stdout file, so an old READY line does not make it ready', async () => {
    h = harness();
    value(h.runner.start(podSpec({ command: sh('echo READY') })));
    await until(() => h.runner.get('p1')?.state === 'exited', 'exit');
    await launched(h.runner, h.runner.start(podSpec({ epoch: 2, command: sh(FOREVER) })));
    await new Promise((r) => setTimeout(r, 150));
    expect(h.runner.get('p1')?.state).toBe('running');
    expect(readFileSync(rotatedPath(logPath(h.runner.podDir('p1'), 'stdout'), 1), 'utf8')).toBe('READY\n');
  });
});

describe('runner: fencing', () => {
  it('refuses an older epoch, a duplicate, a newer one over a running pod, and a rerun of an ended epoch', async () => {
    h = harness();
    value(h.runner.start(podSpec({ epoch: 2, command: sh(FOREVER) })));
    const older = failure(h.runner.start(podSpec({ epoch: 1, command: ['true'] })));
    expect(older.code).toBe('TESSERA_E_CONFLICT');
    expect(older.message).toContain('fencing');
    expect(failure(h.runner.start(podSpec({ epoch: 2, command: ['true'] }))).message).toContain(
      'already running',
    );
    expect(failure(h.runner.start(podSpec({ epoch: 3, command: ['true'] }))).message).toContain(
      'stop it before',
    );
    value(await h.runner.stop('p1', 'reassigned'));
    expect(failure(h.runner.start(podSpec({ epoch: 2, command: ['true'] }))).message).toContain(
      'never runs twice',
    );
    expect(failure(h.runner.start(podSpec({ epoch: 1, command: ['true'] }))).message).toContain('fencing');
    value(h.runner.forget('p1'));
    // Forgotten pods stay fenced: the epoch watermark outlives the entry.
    expect(failure(h.runner.start(podSpec({ epoch: 1, command: ['true'] }))).message).toContain('fencing');
    expect(value(h.runner.start(podSpec({ epoch: 3, command: ['true'] }))).epoch).toBe(3);
  });
});
