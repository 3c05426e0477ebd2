import { describe, expect, it } from 'vitest';
import { detectGpuAccess, gpuDevices } from '../../../../agent/runtime/container/gpus.ts';
import { defaultUlimits, normaliseOptions } from '../../../../agent/runtime/container/options.ts';
import { quietLogger } from './helpers.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             96367                96367                processes
Max open files            20000                20000                files
`;

describe('defaultUlimits', () => {
  it('takes nofile and nproc from the agent hard limits, nproc capped at pid_max', () => {
    expect(defaultUlimits(LIMITS, '32768\n')).toEqual([
      { name: 'nofile', soft: 20000, hard: 20000 },
      { name: 'nproc', soft: 32768, hard: 32768 },
    ]);
    expect(defaultUlimits(LIMITS, '4194304')).toEqual([
      { name: 'nofile', soft: 20000, hard: 20000 },
      { name: 'nproc', soft: 96367, hard: 96367 },
    ]);
  });
  it('falls back where /proc says unlimited or nothing', () => {
    expect(defaultUlimits('Max open files unlimited unlimited files\n', '')).toEqual([
      { name: 'nofile', soft: 1024, hard: 1024 },
      { name: 'nproc', soft: 32768, hard: 32768 },
    ]);
  });
});

describe('normaliseOptions', () => {
  it('fills every default', () => {
    const c = normaliseOptions({ nodeName: 'n', logger: quietLogger, initPath: null, ulimits: [] });
    expect(c.podmanPath).toBe('podman');
    expect(c.cgroupParent).toBe('/tessera/n');
    expect(c.cdiSpecDirs).toEqual(['/etc/cdi', '/var/run/cdi']);
    expect(c.pullRetry).toEqual({ retries: 3, baseBackoffMs: 1000, maxBackoffMs: 30_000 });
    expect(c.insecureRegistries).toEqual([]);
    expect(c.simStateDir).toBeNull();
    expect(c.minorNumberOf('GPU-x')).toBeNull();
  });
});

describe('gpuDevices', () => {
  const grants = [
    { uuid: 'GPU-a', gpuMilli: 1000, memoryMiB: 1, memoryLimitMiB: 1 },
    { uuid: 'GPU-b', gpuMilli: 500, memoryMiB: 1, memoryLimitMiB: 1 },
  ];
  it('names CDI devices by UUID where a CDI spec exists', () => {
    expect(gpuDevices(grants, { kind: 'cdi' })).toEqual({
      ok: true,
      value: { devices: ['nvidia.com/gpu=GPU-a', 'nvidia.com/gpu=GPU-b'], mounts: [] },
    });
  });
  it('else the granted /dev/nvidia<minor> plus the control nodes the host has', () => {
    const r = gpuDevices(grants, {
      kind: 'nodes',
      minorNumberOf: (u) => (u === 'GPU-a' ? 2 : 0),
      exists: (p) => p !== '/dev/nvidia-uvm-tools',
    });
    expect(r).toEqual({
      ok: true,
      value: { devices: ['/dev/nvidia2', '/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia-uvm'], mounts: [] },
    });
  });
  it('refuses a GPU whose minor is unknown, pointing at CDI', () => {
    const r = gpuDevices(grants, { kind: 'nodes', minorNumberOf: () => null, exists: () => true });
    expect(!r.ok && r.error.message).toMatch(/GPU GPU-a has no known device minor.*nvidia-ctk cdi generate/);
  });
  it('sim GPUs bind their state dir at the same path; no grants, nothing', () => {
    expect(gpuDevices(grants, { kind: 'sim', stateDir: '/tmp/sim' })).toEqual({
      ok: true,
      value: { devices: [], mounts: [{ hostPath: '/tmp/sim', containerPath: '/tmp/sim', readOnly: false }] },
    });
    expect(gpuDevices([], { kind: 'cdi' })).toEqual({ ok: true, value: { devices: [], mounts: [] } });
  });
  it('detects a sim state dir first, then a CDI spec', () => {
    expect(detectGpuAccess([], '/tmp/sim', () => null).kind).toBe('sim');
    expect(detectGpuAccess(['/nonexistent'], null, () => null).kind).toBe('nodes');
  });
});
