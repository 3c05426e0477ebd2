import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  initSimState,
  parseSimGpus,
  patchSimGpu,
  readSimState,
  SIM_TOOLS,
  simEnv,
} from '../../../../agent/gpu/sim/spec.ts';

const UUID = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parsed(text: string) {
  const r = parseSimGpus(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('parseSimGpus', () => {
  it('expands a count of one product into that many GPUs with its real name and memory', () => {
    const gpus = parsed('4xH100-80GB');
    expect(gpus).toHaveLength(4);
    expect(gpus.every((g) => g.productName === 'NVIDIA H100 80GB HBM3' && g.memoryTotalMiB === 81559)).toBe(
      true,
    );
  });

  it.each([
    ['8xA100-40GB', 8, 'NVIDIA A100-SXM4-40GB', 40960],
    ['1xH200-141GB', 1, 'NVIDIA H200', 143771],
    ['2xL40S-48GB', 2, 'NVIDIA L40S', 46068],
    ['1xa100-80gb', 1, 'NVIDIA A100-SXM4-80GB', 81920],
  ])('knows %s', (text, count, name, memoryTotalMiB) => {
    const gpus = parsed(text);
    expect(gpus).toHaveLength(count);
    expect(gpus[0]).toMatchObject({ productName: name, memoryTotalMiB });
  });

  it('takes a comma-separated mix in order, spaces allowed', () => {
    const gpus = parsed('2xA100-40GB, 1xL40S-48GB');
    expect(gpus.map((g) => g.key)).toEqual(['A100-40GB', 'A100-40GB', 'L40S-48GB']);
  });

  it.each([
    '',
    'H100-80GB',
    '4xH100',
    '4x H100-80GB',
    '0xH100-80GB',
    '4xH100-81GB',
    '4xFOO-80GB',
    '4xH100-80GB,',
    '65xT4-16GB',
  ])('rejects %j naming the accepted form and the models', (text) => {
    const r = parseSimGpus(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('TESSERA_E_INVALID_CONFIG');
    expect(r.error.field).toBe('sim-gpus');
    expect(r.error.message).toContain('<count>x<model>-<memory>GB');
    expect(r.error.message).toContain('H100-80GB, H200-141GB');
  });
});

describe('initSimState', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('writes gpus.json with stable, distinct UUIDs and makes procs/', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-sim-'));
    const state = await initSimState(dir, parsed('2xH100-80GB,1xL40S-48GB'));
    expect(state.gpus.map((g) => g.index)).toEqual([0, 1, 2]);
    expect(state.gpus.every((g) => UUID.test(g.uuid))).toBe(true);
    expect(new Set(state.gpus.map((g) => g.uuid)).size).toBe(3);
    expect(state.gpus[2]).toMatchObject({
      model: 'L40S-48GB',
      pciBusId: '00000000:3A:00.0',
      memoryTemperatureC: null,
    });
    expect(await readSimState(dir)).toEqual(state);
    expect(await readdir(path.join(dir, 'procs'))).toEqual([]);

    const again = await initSimState(dir, parsed('2xH100-80GB,1xL40S-48GB'));
    expect(again.gpus.map((g) => g.uuid)).toEqual(state.gpus.map((g) => g.uuid));
    const other = await initSimState(dir, parsed('2xH100-80GB,1xL40S-48GB'), { seed: 'node-b' });
    expect(other.gpus[0]!.uuid).not.toBe(state.gpus[0]!.uuid);
  });

  it('keeps registrations already in procs/, so a restarted agent finds its workloads', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-sim-'));
    await mkdir(path.join(dir, 'procs'));
    await writeFile(path.join(dir, 'procs', '123.json'), '{}');
    await initSimState(dir, parsed('1xT4-16GB'));
    expect(await readdir(path.join(dir, 'procs'))).toEqual(['123.json']);
  });

  it('patchSimGpu changes one GPU and keeps its identity', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-sim-'));
    const state = await initSimState(dir, parsed('2xH100-80GB'));
    const patched = await patchSimGpu(dir, 1, {
      temperatureC: 90,
      uuid: 'GPU-nope',
      throttleReasons: ['hw_slowdown'],
    });
    expect(patched.gpus[1]).toMatchObject({
      temperatureC: 90,
      uuid: state.gpus[1]!.uuid,
      throttleReasons: ['hw_slowdown'],
    });
    expect(patched.gpus[0]).toEqual(state.gpus[0]);
  });
});

describe('simEnv and SIM_TOOLS', () => {
  it('point the fakes at a state directory and name them as the real tools', () => {
    expect(simEnv('/x')).toEqual({ TESSERA_SIM_STATE: '/x' });
    expect(path.basename(SIM_TOOLS.nvidiaSmi)).toBe('nvidia-smi');
    expect(path.basename(SIM_TOOLS.cudaCheckpoint)).toBe('cuda-checkpoint');
    expect(path.dirname(SIM_TOOLS.nvidiaSmi)).toBe(SIM_TOOLS.binDir);
  });
});
