import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  grantProblems,
  isReservedEnvName,
  type NodeEnvInfo,
  podEnv,
  podProcessEnv,
} from '../../../agent/runner/env.ts';
import type { GpuGrant } from '../../../common/resources.ts';
import { GPU0, GPU1, NODE, podSpec } from './helpers.ts';

const whole = (uuid: string): GpuGrant => ({ uuid, gpuMilli: 1000, memoryMiB: 81920, memoryLimitMiB: 81920 });
const HAMI: NodeEnvInfo = { ...NODE, hamiCore: true, hamiCoreLibrary: '/usr/local/vgpu/libvgpu.so' };
const MPS: NodeEnvInfo = { ...NODE, mpsPipeDir: '/run/nvidia-mps' };
const BOTH: NodeEnvInfo = { ...HAMI, mpsPipeDir: '/run/nvidia-mps' };

describe('podEnv', () => {
  it("keeps the allocator's network env, TESSERA_* names included, under a spec's own non-Tessera values", () => {
    const spec = podSpec({
      command: ['x'],
      grants: [],
      env: { MASTER_PORT: '29500', TESSERA_PORT_HTTP: '1' },
      networkEnv: {
        TESSERA_PORT_HTTP: '40001',
        TESSERA_POD_INDEX: '2',
        MASTER_ADDR: '10.0.0.1',
        MASTER_PORT: '40000',
        CUDA_VISIBLE_DEVICES: 'GPU-x',
      },
    });
    const env = podEnv(spec, NODE);
    expect(env).toMatchObject({
      TESSERA_PORT_HTTP: '40001',
      TESSERA_POD_INDEX: '2',
      MASTER_ADDR: '10.0.0.1',
      MASTER_PORT: '29500',
      CUDA_VISIBLE_DEVICES: '',
    });
  });

  it('a whole GPU: visible by UUID, fraction 1, the whole memory as limit and request', () => {
    const env = podEnv(podSpec({ command: ['x'], grants: [whole(GPU0)] }), NODE);
    expect(env).toMatchObject({
      CUDA_VISIBLE_DEVICES: GPU0,
      NVIDIA_VISIBLE_DEVICES: GPU0,
      TESSERA_GPU_COUNT: '1',
      TESSERA_GPU_FRACTION: '1',
      TESSERA_GPU_MEMORY_LIMIT_MIB: '81920',
      TESSERA_GPU_MEMORY_REQUEST_MIB: '81920',
      TESSERA_POD_ID: 'p1',
      TESSERA_EPOCH: '1',
      TESSERA_WORKLOAD: 'train',
      TESSERA_PROJECT: 'team-a',
    });
    // No limiter on this node: none of the limiter variables appear.
    expect(Object.keys(env).filter((k) => k.startsWith('CUDA_DEVICE_') || k.startsWith('CUDA_MPS_'))).toEqual(
      [],
    );
  });

  it('several whole GPUs: comma-joined in grant order, limit is the per-GPU value', () => {
    const env = podEnv(podSpec({ command: ['x'], grants: [whole(GPU1), whole(GPU0)] }), NODE);
    expect(env.CUDA_VISIBLE_DEVICES).toBe(`${GPU1},${GPU0}`);
    expect(env.NVIDIA_VISIBLE_DEVICES).toBe(`${GPU1},${GPU0}`);
    expect(env.TESSERA_GPU_COUNT).toBe('2');
    expect(env.TESSERA_GPU_FRACTION).toBe('1');
    expect(env.TESSERA_GPU_MEMORY_LIMIT_MIB).toBe('81920');
  });

  it('a fraction: 500 milli-GPU is 0.5 with its share of memory', () => {
    const grant = { uuid: GPU0, gpuMilli: 500, memoryMiB: 40960, memoryLimitMiB: 40960 };
    const env = podEnv(podSpec({ command: ['x'], grants: [grant] }), NODE);
    expect(env.TESSERA_GPU_FRACTION).toBe('0.5');
    expect(env.TESSERA_GPU_MEMORY_LIMIT_MIB).toBe('40960');
    expect(env.TESSERA_GPU_MEMORY_REQUEST_MIB).toBe('40960');
  });

  it('a dynamic fraction: request and limit differ, and limiters enforce the limit', () => {
    const grant = { uuid: GPU0, gpuMilli: 250, memoryMiB: 20480, memoryLimitMiB: 40960 };
    const env = podEnv(podSpec({ command: ['x'], grants: [grant] }), HAMI);
    expect(env.TESSERA_GPU_FRACTION).toBe('0.25');
    expect(env.TESSERA_GPU_MEMORY_REQUEST_MIB).toBe('20480');
    expect(env.TESSERA_GPU_MEMORY_LIMIT_MIB).toBe('40960');
    expect(env.CUDA_DEVICE_MEMORY_LIMIT_0).toBe('40960m');
  });

  it('HAMi-core: a memory limit per visible index, the SM share, a per-pod cache, and the preload first', () => {
    const grants = [
      { uuid: GPU1, gpuMilli: 333, memoryMiB: 27000, memoryLimitMiB: 27000 },
      { uuid: GPU0, gpuMilli: 333, memoryMiB: 27000, memoryLimitMiB: 27000 },
    ];
    const spec = podSpec({ command: ['x'], grants, epoch: 7, env: { LD_PRELOAD: '/opt/own.so' } });
    const env = podEnv(spec, HAMI, { podDir: '/var/lib/tessera/pods/p1' });
    expect(env.CUDA_DEVICE_MEMORY_LIMIT_0).toBe('27000m');
    expect(env.CUDA_DEVICE_MEMORY_LIMIT_1).toBe('27000m');
    expect(env.CUDA_DEVICE_MEMORY_LIMIT_2).toBeUndefined();
    // 0.333 of the SMs rounds up: a pod never gets less than its share.
    expect(env.CUDA_DEVICE_SM_LIMIT).toBe('34');
    expect(env.CUDA_DEVICE_MEMORY_SHARED_CACHE).toBe('/var/lib/tessera/pods/p1/hami-core-e7.cache');
    expect(env.LD_PRELOAD).toBe('/usr/local/vgpu/libvgpu.so:/opt/own.so');
  });

  it('MPS: pinned memory per visible index in MiB, thread percentage, and the daemon pipe dir', () => {
    const grants = [
      { uuid: GPU0, gpuMilli: 500, memoryMiB: 40960, memoryLimitMiB: 40960 },
      { uuid: GPU1, gpuMilli: 500, memoryMiB: 30000, memoryLimitMiB: 40000 },
    ];
    const env = podEnv(podSpec({ command: ['x'], grants }), MPS);
    expect(env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT).toBe('0=40960M,1=40000M');
    expect(env.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE).toBe('50');
    expect(env.CUDA_MPS_PIPE_DIRECTORY).toBe('/run/nvidia-mps');
    // Grants that differ: the single variable takes the smallest, which fits on every GPU.
    expect(env.TESSERA_GPU_MEMORY_LIMIT_MIB).toBe('40000');
    expect(env.TESSERA_GPU_MEMORY_REQUEST_MIB).toBe('30000');
    expect(env.CUDA_DEVICE_MEMORY_LIMIT_0).toBeUndefined();
  });

  it("the spec's env is kept, but it cannot set Tessera's names or loosen a limiter", () => {
    const spec = podSpec({
      command: ['x'],
      grants: [{ uuid: GPU0, gpuMilli: 500, memoryMiB: 100, memoryLimitMiB: 100 }],
      env: {
        MY_FLAG: 'on',
        CUDA_VISIBLE_DEVICES: GPU1,
        TESSERA_GPU_MEMORY_LIMIT_MIB: '99999',
        CUDA_DEVICE_MEMORY_LIMIT: '80g',
        CUDA_OVERSUBSCRIBE: 'true',
        CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: '100',
      },
    });
    const env = podEnv(spec, BOTH);
    expect(env.MY_FLAG).toBe('on');
    expect(env.CUDA_VISIBLE_DEVICES).toBe(GPU0);
    expect(env.TESSERA_GPU_MEMORY_LIMIT_MIB).toBe('100');
    expect(env.CUDA_DEVICE_MEMORY_LIMIT).toBeUndefined();
    expect(env.CUDA_OVERSUBSCRIBE).toBeUndefined();
    expect(env.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE).toBe('50');
  });

  it('a pod with no GPU sees none (empty CUDA_VISIBLE_DEVICES) and gets no limiter variables', () => {
    const env = podEnv(podSpec({ command: ['x'] }), BOTH);
    expect(env.CUDA_VISIBLE_DEVICES).toBe('');
    expect(env.TESSERA_GPU_COUNT).toBe('0');
    expect(env.TESSERA_GPU_FRACTION).toBe('0');
    expect(env.CUDA_DEVICE_SM_LIMIT).toBeUndefined();
    expect(env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT).toBeUndefined();
  });

  it('property: visible devices and limiter indices follow the grants exactly, and Tessera names win', () => {
    const grant = fc.record({
      uuid: fc.constantFrom(GPU0, GPU1, 'GPU-x', 'MIG-GPU-y/1/0'),
      gpuMilli: fc.integer({ min: 1, max: 1000 }),
      memoryMiB: fc.integer({ min: 0, max: 81920 }),
      memoryLimitMiB: fc.integer({ min: 0, max: 81920 }),
    });
    const env = fc.dictionary(
      fc.constantFrom('A', 'TESSERA_POD_ID', 'CUDA_VISIBLE_DEVICES', 'B'),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(grant, { maxLength: 8 }), env, (grants, own) => {
        const out = podEnv(podSpec({ command: ['x'], grants, env: own }), BOTH);
        expect(out.CUDA_VISIBLE_DEVICES).toBe(grants.map((g) => g.uuid).join(','));
        expect(out.TESSERA_POD_ID).toBe('p1');
        const indices = Object.keys(out).filter((k) => k.startsWith('CUDA_DEVICE_MEMORY_LIMIT_'));
        expect(indices.length).toBe(grants.length);
        grants.forEach((g, i) => {
          expect(out[`CUDA_DEVICE_MEMORY_LIMIT_${i}`]).toBe(`${g.memoryLimitMiB}m`);
        });
        for (const [k, v] of Object.entries(own)) if (!isReservedEnvName(k)) expect(out[k]).toBe(v);
      }),
    );
  });
});

describe('grantProblems', () => {
  it('names unknown GPUs, limits beyond the GPU, and limits below the request', () => {
    const spec = podSpec({
      command: ['x'],
      grants: [
        { uuid: 'GPU-nope', gpuMilli: 1000, memoryMiB: 1, memoryLimitMiB: 1 },
        { uuid: GPU0, gpuMilli: 500, memoryMiB: 100, memoryLimitMiB: 90000 },
        { uuid: GPU1, gpuMilli: 500, memoryMiB: 200, memoryLimitMiB: 100 },
      ],
    });
    const problems = grantProblems(spec, NODE);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('GPU-nope');
    expect(problems[1]).toContain('exceeds');
    expect(problems[2]).toContain('below');
    expect(grantProblems(podSpec({ command: ['x'], grants: [whole(GPU0)] }), NODE)).toEqual([]);
  });
});

describe('podProcessEnv', () => {
  it("layers base, node env and the pod's own: the filter drops reserved names from base and spec, never from node env", () => {
    const spec = podSpec({
      command: ['x'],
      grants: [whole(GPU0)],
      env: { TESSERA_SIM_STATE: '/spec', SHARED: 'spec', CUDA_VISIBLE_DEVICES: 'all' },
    });
    const env = podProcessEnv(
      { PATH: '/bin', TESSERA_TOKEN: 'secret', SHARED: 'base' },
      { TESSERA_SIM_STATE: '/node', SHARED: 'node', TESSERA_POD_ID: 'node' },
      spec,
      NODE,
    );
    expect(env).toMatchObject({
      PATH: '/bin',
      TESSERA_SIM_STATE: '/node',
      SHARED: 'spec',
      TESSERA_POD_ID: 'p1',
      CUDA_VISIBLE_DEVICES: GPU0,
    });
    expect(env.TESSERA_TOKEN).toBeUndefined();
  });
});
