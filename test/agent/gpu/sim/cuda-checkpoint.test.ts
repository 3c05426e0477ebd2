import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { until } from '../../../helpers/wait.ts';
import { ckpt, makeSimNode, type SimNode, sleep, smi, startWorkload } from './helpers.ts';

const ILLEGAL = '"the operation cannot be performed in the present state"';
const here = path.dirname(new URL(import.meta.url).pathname);
const helpR570 = path.resolve(here, '../../../fixtures/nvidia/public/cuda-checkpoint-help_r570.86.10.txt');

/** One GPU as `nvidia-smi -q -x` shows it: memory used and the pids of its processes. */
async function gpuView(node: SimNode, index: number): Promise<{ used: string; pids: number[] }> {
  const xml = (await smi(node, '-q', '-x', '-i', String(index))).stdout;
  const gpu = new XMLParser({ isArray: (name) => name === 'process_info' }).parse(xml).nvidia_smi_log.gpu as {
    fb_memory_usage: { used: string };
    processes: '' | { process_info: Array<{ pid: number }> };
  };
  const procs = gpu.processes === '' ? [] : gpu.processes.process_info;
  return { used: gpu.fb_memory_usage.used, pids: procs.map((p) => p.pid) };
}

// Each test has its own workload, so they run concurrently: most of their time is waiting on processes.
describe.concurrent('sim cuda-checkpoint', () => {
  let node: SimNode;
  beforeAll(async () => {
    node = await makeSimNode('2xH100-80GB');
  });
  afterAll(() => node.close());

  it.skipIf(!existsSync(helpR570))('--help prints the r570 help text verbatim', async () => {
    const r = await ckpt(node, '--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(readFileSync(helpR570, 'utf8'));
  });

  it('walks the driver state machine; every illegal move fails with CUDA_ERROR_ILLEGAL_STATE and changes nothing', async () => {
    const w = await startWorkload(node, ['--mib', '1000', '--step-ms', '50']);
    // The registration holds the state the fake keeps; --get-state prints it (checked here and below).
    const state = async () => (await w.registration())!.cudaState;
    const getState = async () => (await ckpt(node, '--get-state', '--pid', String(w.pid))).stdout;
    // From each state: the illegal moves (tried together: they must change nothing), then the legal one.
    const walk: Array<{ from: string; illegal: string[]; legal: string; to: string }> = [
      { from: 'running', illegal: ['checkpoint', 'restore', 'unlock'], legal: 'lock', to: 'locked' },
      { from: 'locked', illegal: ['lock', 'restore'], legal: 'checkpoint', to: 'checkpointed' },
      { from: 'checkpointed', illegal: ['checkpoint', 'lock', 'unlock'], legal: 'restore', to: 'locked' },
      { from: 'locked', illegal: [], legal: 'unlock', to: 'running' },
    ];
    for (const { from, illegal, legal, to } of walk) {
      const refused = await Promise.all(
        illegal.map((a) => ckpt(node, '--action', a, '--pid', String(w.pid))),
      );
      expect(refused.map((r) => [r.exitCode, r.stderr])).toEqual(
        illegal.map((a) => [1, `Could not ${a} on process ID ${w.pid}: ${ILLEGAL}\n`]),
      );
      expect(await state()).toBe(from);
      const done = await ckpt(node, '--action', legal, '--pid', String(w.pid));
      expect([legal, done.exitCode, done.stderr]).toEqual([legal, 0, '']);
      expect(await state()).toBe(to);
    }
    expect(await getState()).toBe('running\n');
    // --toggle is lock+checkpoint from running, restore+unlock from checkpointed.
    await ckpt(node, '--toggle', '--pid', String(w.pid));
    expect(await state()).toBe('checkpointed');
    await ckpt(node, '--toggle', '--pid', String(w.pid));
    expect(await state()).toBe('running');
    await w.waitFor(/^RESTORED restores=2 data=ok/);
    w.proc.kill();
  });

  it('checkpoint frees the GPU memory; restore brings it back and the workload finds its data intact', async () => {
    const w = await startWorkload(node, ['--mib', '4096', '--step-ms', '50'], { CUDA_VISIBLE_DEVICES: '1' });
    const pid = String(w.pid);
    await until(async () => ((await w.registration())?.steps ?? 0) >= 2, 'a few GPU steps', 5000);
    expect(await gpuView(node, 1)).toEqual({ used: '4096 MiB', pids: [w.pid] });

    expect((await ckpt(node, '--action', 'lock', '--pid', pid)).exitCode).toBe(0);
    expect((await ckpt(node, '--action', 'checkpoint', '--pid', pid)).exitCode).toBe(0);
    expect(await gpuView(node, 1)).toEqual({ used: '0 MiB', pids: [] });
    expect(await w.registration()).toMatchObject({
      checkpointed: true,
      cudaState: 'checkpointed',
      hostMemoryMiB: 4096,
    });
    expect(existsSync(path.join(node.dir, 'procs', `${pid}.host`))).toBe(true);
    expect(existsSync(path.join(node.dir, 'procs', `${pid}.gpu`))).toBe(false);

    expect((await ckpt(node, '--action', 'restore', '--pid', pid)).exitCode).toBe(0);
    expect((await ckpt(node, '--action', 'unlock', '--pid', pid)).exitCode).toBe(0);
    expect(await gpuView(node, 1)).toEqual({ used: '4096 MiB', pids: [w.pid] });
    await w.waitFor(/^RESTORED restores=1 data=ok/);
    expect(await w.registration()).toMatchObject({ checkpointed: false, hostMemoryMiB: 0, restoreCount: 1 });
    w.proc.kill();
    const result = await w.proc;
    expect(result.signal).toBe('SIGTERM');
  });

  it('a checkpointed workload makes no progress until restored', async () => {
    const w = await startWorkload(node, ['--mib', '100', '--step-ms', '25']);
    const pid = String(w.pid);
    const steps = async () => (await w.registration())!.steps;
    await until(async () => (await steps()) >= 3, 'progress before the swap', 5000);
    await ckpt(node, '--toggle', '--pid', pid);
    await w.waitFor(/^BLOCKED state=(locked|checkpointed)/);
    const frozen = await steps();
    await sleep(250);
    expect(await steps()).toBe(frozen);
    await ckpt(node, '--toggle', '--pid', pid);
    await until(async () => (await steps()) >= frozen + 5, 'progress after the restore', 5000);
    await w.waitFor(/^RESUMED after \d+ ms/);
    w.proc.kill();
  });

  it('restore fails with "out of memory" while the GPU is full, stays checkpointed, and succeeds once memory frees', async () => {
    // A node of its own: the arithmetic below must not depend on the other tests' workloads.
    const node = await makeSimNode('2xH100-80GB');
    onTestFinished(() => node.close());
    const w = await startWorkload(node, ['--mib', '50000', '--step-ms', '50'], { CUDA_VISIBLE_DEVICES: '1' });
    const pid = String(w.pid);
    await ckpt(node, '--toggle', '--pid', pid);
    // 81559 total - 479 reserved = 81080 usable: a 40000 MiB neighbour leaves too little for 50000.
    const filler = await startWorkload(node, ['--mib', '40000'], { CUDA_VISIBLE_DEVICES: '1' });
    const refused = await ckpt(node, '--action', 'restore', '--pid', pid);
    expect([refused.exitCode, refused.stderr]).toEqual([
      1,
      `Could not restore on process ID ${pid}: "out of memory"\n`,
    ]);
    expect((await ckpt(node, '--get-state', '--pid', pid)).stdout).toBe('checkpointed\n');
    filler.proc.kill();
    await filler.proc;
    expect((await ckpt(node, '--toggle', '--pid', pid)).exitCode).toBe(0);
    await w.waitFor(/^RESTORED restores=1 data=ok/);
    w.proc.kill();
  });

  it('a host copy changed while checkpointed is caught by the workload after the restore', async () => {
    const w = await startWorkload(node, ['--mib', '10', '--step-ms', '50']);
    const pid = String(w.pid);
    await ckpt(node, '--toggle', '--pid', pid);
    const host = path.join(node.dir, 'procs', `${pid}.host`);
    const bytes = await readFile(host);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(host, bytes);
    await ckpt(node, '--toggle', '--pid', pid);
    const result = await w.proc;
    expect(result.exitCode).toBe(3);
    expect(w.lines.some((l) => l.startsWith('DATA CORRUPTED'))).toBe(true);
  });

  it('cannot lock a stopped (SIGSTOP) process: it times out, and works once the process runs again', async () => {
    const w = await startWorkload(node, ['--mib', '10', '--step-ms', '50']);
    const pid = String(w.pid);
    process.kill(w.pid, 'SIGSTOP');
    try {
      const r = await ckpt(node, '--action', 'lock', '--pid', pid, '--timeout', '150');
      expect([r.exitCode, r.stderr]).toEqual([
        1,
        `Could not lock on process ID ${pid}: "the operation timed out"\n`,
      ]);
      expect((await w.registration())?.cudaState).toBe('running');
    } finally {
      process.kill(w.pid, 'SIGCONT');
    }
    expect((await ckpt(node, '--action', 'lock', '--pid', pid, '--timeout', '150')).exitCode).toBe(0);
    w.proc.kill();
  });

  it('fails for a pid that is no process, and for a process that never used CUDA', async () => {
    const [none, noCuda] = await Promise.all([
      ckpt(node, '--get-state', '--pid', '999999999'),
      ckpt(node, '--action', 'lock', '--pid', String(process.pid)),
    ]);
    expect([none.exitCode, none.stderr]).toEqual([
      1,
      'Could not get state on process ID 999999999: "invalid argument"\n',
    ]);
    expect([noCuda.exitCode, noCuda.stderr]).toEqual([
      1,
      `Could not lock on process ID ${process.pid}: "initialization error"\n`,
    ]);
  });

  it('rejects bad usage with a message and a non-zero exit', async () => {
    const runs = await Promise.all([
      ckpt(node, '--bogus'),
      ckpt(node, '--action', 'pause', '--pid', '1'),
      ckpt(node, '--action', 'lock'),
      ckpt(node),
    ]);
    expect(runs.map((r) => r.exitCode)).toEqual([1, 1, 1, 1]);
    expect(runs[0]!.stderr).toContain("unrecognized option '--bogus'");
    expect(runs[1]!.stderr).toContain("invalid action 'pause'");
    expect(runs[2]!.stderr).toContain('--pid');
    expect(runs[3]!.stderr).toContain('--get-state --pid <pid>');
  });

  it('without a state directory it fails as the tool does without a usable driver', async () => {
    const r = await ckpt(
      { env: { TESSERA_SIM_STATE: path.join(node.dir, 'missing') } },
      '--get-state',
      '--pid',
      '1',
    );
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      'Error initializing CUDA: "OS call failed or operation not supported on this OS"\n',
    ]);
  });
});
