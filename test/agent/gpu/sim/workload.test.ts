import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../../helpers/wait.ts';
import { makeSimNode, type SimNode, sleep, startWorkload } from './helpers.ts';

// The processes are independent (separate GPUs or room to spare), so the tests run concurrently.
describe.concurrent('sim test workload', () => {
  let node: SimNode;
  beforeAll(async () => {
    node = await makeSimNode('4xA100-40GB');
  });
  afterAll(() => node.close());

  it('registers on the GPU CUDA_VISIBLE_DEVICES names, says READY, exits with the chosen code and unregisters', async () => {
    const gpu = node.state.gpus[2]!;
    const w = await startWorkload(
      node,
      ['--mib', '512', '--util', '30', '--steps', '3', '--step-ms', '10', '--exit-code', '7'],
      {
        CUDA_VISIBLE_DEVICES: `${gpu.uuid},${node.state.gpus[0]!.uuid}`,
      },
    );
    expect(w.lines[0]).toBe(`READY pid=${w.pid} gpu=${gpu.uuid} mib=512`);
    const result = await w.proc;
    expect(result.exitCode).toBe(7);
    expect(w.lines.at(-1)).toBe('DONE steps=3 exit=7');
    expect((await readdir(path.join(node.dir, 'procs'))).filter((f) => f.startsWith(`${w.pid}.`))).toEqual(
      [],
    );
  });

  it('its registration carries what nvidia-smi and cuda-checkpoint read', async () => {
    const w = await startWorkload(
      node,
      ['--mib', '256', '--util', '45', '--name', 'train.py', '--step-ms', '25'],
      {
        CUDA_VISIBLE_DEVICES: '1',
      },
    );
    await until(async () => ((await w.registration())?.steps ?? 0) >= 2, 'two steps', 5000);
    const reg = (await w.registration())!;
    expect(reg).toMatchObject({
      pid: w.pid,
      gpuUuid: node.state.gpus[1]!.uuid,
      name: 'train.py',
      usedMemoryMiB: 256,
      utilizationPct: 45,
      cudaState: 'running',
      checkpointed: false,
      hostMemoryMiB: 0,
      restoreCount: 0,
    });
    expect(reg.dataChecksum).toMatch(/^[0-9a-f]{64}$/);
    w.proc.kill();
  });

  it('grows at the asked rate while it works, up to its maximum', async () => {
    // 100 steps/s of 10 ms; 2000 MiB/s -> +20 MiB a step, capped at 1100.
    const w = await startWorkload(
      node,
      ['--mib', '1000', '--grow-mib-per-s', '2000', '--max-mib', '1100', '--step-ms', '25'],
      { CUDA_VISIBLE_DEVICES: '3' },
    );
    await until(async () => ((await w.registration())?.usedMemoryMiB ?? 0) > 1000, 'growth', 5000);
    await until(async () => (await w.registration())?.usedMemoryMiB === 1100, 'the cap', 5000);
    await sleep(60);
    expect((await w.registration())?.usedMemoryMiB).toBe(1100);
    w.proc.kill();
  });

  it('fails like cudaMalloc when the GPU has too little free memory, at start and when growing (exit 2)', async () => {
    // 40960 total - 605 reserved = 40355 usable on an A100-40GB.
    const tooBig = await startWorkload(node, ['--mib', '40356'], { CUDA_VISIBLE_DEVICES: '0' });
    const r = await tooBig.proc;
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('CUDA error: out of memory (tried to allocate 40356 MiB');
    expect(existsSync(path.join(node.dir, 'procs', `${tooBig.pid}.json`))).toBe(false);

    const grower = await startWorkload(
      node,
      ['--mib', '40300', '--grow-mib-per-s', '10000', '--step-ms', '10'],
      {
        CUDA_VISIBLE_DEVICES: '0',
      },
    );
    const g = await grower.proc;
    expect(g.exitCode).toBe(2);
    expect(String(g.stderr)).toContain('out of memory');
  });

  it('sees no device when CUDA_VISIBLE_DEVICES names none, as CUDA does (exit 1)', async () => {
    const [empty, wrong] = await Promise.all([
      startWorkload(node, [], { CUDA_VISIBLE_DEVICES: '' }),
      startWorkload(node, [], { CUDA_VISIBLE_DEVICES: 'GPU-00000000' }),
    ]);
    for (const w of [empty, wrong]) {
      const r = await w.proc;
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toBe('CUDA error: no CUDA-capable device is detected');
    }
  });

  it('dies by SIGTERM as SIGTERM, leaving no registration behind', async () => {
    const w = await startWorkload(node, ['--mib', '64'], { CUDA_VISIBLE_DEVICES: '1' });
    w.proc.kill('SIGTERM');
    const r = await w.proc;
    expect(r.signal).toBe('SIGTERM');
    expect(existsSync(path.join(node.dir, 'procs', `${w.pid}.json`))).toBe(false);
  });

  it('takes its options from TESSERA_WORKLOAD_* too, flags winning', async () => {
    const w = await startWorkload(node, ['--util', '5'], {
      CUDA_VISIBLE_DEVICES: '2',
      TESSERA_WORKLOAD_MIB: '321',
      TESSERA_WORKLOAD_UTIL: '99',
    });
    expect(await w.registration()).toMatchObject({ usedMemoryMiB: 321, utilizationPct: 5 });
    w.proc.kill();
  });

  it.skipIf(!existsSync('/proc/self/stat'))(
    '--cpu busy burns a core between steps; idle does not',
    async () => {
      const cpuTicks = (pid: number) => {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // utime and stime, fields 14 and 15, counted after the parenthesised command name.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(f[11]) + Number(f[12]);
      };
      const [busy, idle] = await Promise.all([
        startWorkload(node, ['--mib', '1', '--cpu', 'busy', '--step-ms', '50'], {
          CUDA_VISIBLE_DEVICES: '3',
        }),
        startWorkload(node, ['--mib', '1', '--cpu', 'idle', '--step-ms', '50'], {
          CUDA_VISIBLE_DEVICES: '3',
        }),
      ]);
      const before = [cpuTicks(busy.pid), cpuTicks(idle.pid)];
      await sleep(500);
      const [busyTicks, idleTicks] = [cpuTicks(busy.pid) - before[0]!, cpuTicks(idle.pid) - before[1]!];
      busy.proc.kill();
      idle.proc.kill();
      // Clock ticks are 1/100 s. On a loaded CI machine the spinning process gets only a share of a core,
      // so the check is relative: it must use several times what the sleeping one does.
      expect(busyTicks).toBeGreaterThanOrEqual(Math.max(4, 3 * idleTicks));
    },
  );
});
