/** The per-GPU health rules and how `probeHealth` finds (or fails to find) the agent. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/api.ts';
import type { GpuDriver, GpuInfo, GpuInventory } from '../../agent/gpu/driver.ts';
import { assessGpu, healthExitCode, probeHealth, worst } from '../../agent/health.ts';
import { stateFilePath } from '../../agent/state-file.ts';
import { formatHealth } from '../../cli/commands/health.ts';
import { err, ok, tesseraError } from '../../common/errors.ts';

function gpu(partial: Partial<GpuInfo> = {}): GpuInfo {
  return {
    index: 0,
    uuid: 'GPU-0',
    model: 'NVIDIA H100 80GB HBM3',
    memoryTotalMiB: 81559,
    memoryReservedMiB: 479,
    memoryUsedMiB: 0,
    migMode: 'disabled',
    migDevices: [],
    eccUncorrectedVolatile: 0,
    eccUncorrectedAggregate: 0,
    temperatureC: 40,
    temperatureSlowdownC: 87,
    temperatureShutdownC: 92,
    powerDrawW: 70,
    powerLimitW: 700,
    utilizationPct: 0,
    throttleReasons: [],
    processes: [],
    ...partial,
  };
}

describe('assessGpu', () => {
  it('calls a cool GPU without errors or brakes healthy, with no reasons', () => {
    expect(assessGpu(gpu())).toMatchObject({ level: 'healthy', reasons: [] });
  });

  it('calls uncorrectable ECC errors since the driver loaded unhealthy, lifetime-only ones degraded', () => {
    expect(assessGpu(gpu({ eccUncorrectedVolatile: 2, eccUncorrectedAggregate: 2 }))).toMatchObject({
      level: 'unhealthy',
      reasons: ['2 uncorrectable ECC error(s) since the driver loaded'],
    });
    expect(assessGpu(gpu({ eccUncorrectedAggregate: 3 })).level).toBe('degraded');
    // Not supported (null) is not an error.
    expect(assessGpu(gpu({ eccUncorrectedVolatile: null, eccUncorrectedAggregate: null })).level).toBe(
      'healthy',
    );
  });

  it('calls a GPU at its slowdown threshold unhealthy, and one just below healthy', () => {
    expect(assessGpu(gpu({ temperatureC: 87 })).reasons).toEqual([
      '87 C, at or above its slowdown threshold of 87 C',
    ]);
    expect(assessGpu(gpu({ temperatureC: 86 })).level).toBe('healthy');
  });

  it('uses the T.Limit margin where the driver reports no thresholds, else 90 C', () => {
    const tlimit = { temperatureSlowdownC: null, temperatureShutdownC: null };
    expect(assessGpu(gpu({ ...tlimit, temperatureC: 88, temperatureTlimitMarginC: -1 })).level).toBe(
      'unhealthy',
    );
    expect(assessGpu(gpu({ ...tlimit, temperatureC: 95, temperatureTlimitMarginC: 3 })).level).toBe(
      'healthy',
    );
    expect(assessGpu(gpu({ ...tlimit, temperatureC: 90 })).level).toBe('unhealthy');
    expect(assessGpu(gpu({ ...tlimit, temperatureC: 89 })).level).toBe('healthy');
  });

  it('maps throttle reasons: hardware brakes unhealthy, self-slowing degraded, power capping healthy', () => {
    expect(assessGpu(gpu({ throttleReasons: ['hw_thermal_slowdown'] })).level).toBe('unhealthy');
    expect(assessGpu(gpu({ throttleReasons: ['hw_power_brake_slowdown'] })).level).toBe('unhealthy');
    expect(assessGpu(gpu({ throttleReasons: ['sw_thermal_slowdown'] })).level).toBe('degraded');
    expect(assessGpu(gpu({ throttleReasons: ['hw_slowdown'] })).level).toBe('degraded');
    expect(assessGpu(gpu({ throttleReasons: ['sw_power_cap', 'sync_boost'] })).level).toBe('healthy');
  });

  it('takes the worst of several findings and keeps every reason', () => {
    const h = assessGpu(gpu({ throttleReasons: ['sw_thermal_slowdown'], eccUncorrectedVolatile: 1 }));
    expect(h.level).toBe('unhealthy');
    expect(h.reasons).toHaveLength(2);
    expect(worst('healthy', 'degraded', 'healthy')).toBe('degraded');
    expect(worst()).toBe('healthy');
  });
});

const INVENTORY: GpuInventory = { driverVersion: '580.159.04', cudaVersion: '13.0', gpus: [gpu()] };

function driver(inventory: GpuInventory | null): GpuDriver {
  return {
    kind: 'nvidia',
    discover: async () =>
      inventory === null
        ? err(
            tesseraError(
              'TESSERA_E_GPU_DRIVER',
              'nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim',
            ),
          )
        : ok(inventory),
    sample: () => ({ stop: async () => {} }),
    swapSupport: async () => ok(true),
    checkpointState: async () => ok('running' as const),
    checkpoint: async () => ok(true),
    restore: async () => ok(true),
  };
}

describe('probeHealth', () => {
  let dir = '';
  let server: Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function writeState(
    pid: number,
    port: number | null,
    writtenAtMs: number,
    allocator: AgentStatus['allocator'] = 'not connected',
  ): void {
    const status = {
      agent: { pid, startedAtMs: 0, lastSampleAtMs: null },
      pods: [],
      swap: { enabled: false, capacityMiB: 0, usedMiB: 0 },
      allocator,
    };
    const state = {
      version: 1,
      pid,
      port,
      startedAtMs: 0,
      writtenAtMs,
      stoppedAtMs: null,
      gpu: { kind: 'nvidia', simStateDir: null },
      status,
    };
    writeFileSync(stateFilePath(dir), JSON.stringify(state));
  }

  it('says the agent is not running when its state file is missing, and is degraded, not unhealthy', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-health-'));
    const r = await probeHealth({ driver: driver(INVENTORY), dataDir: dir });
    expect(r.agent).toMatchObject({
      running: false,
      source: 'none',
      message: `not running (state file ${stateFilePath(dir)} missing)`,
    });
    expect(r.level).toBe('degraded');
    expect(healthExitCode(r)).toBe(0);
  });

  it('does not take another process on the recorded port for the agent: the pid must match', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-health-'));
    const s = createServer((_req, res) => {
      res.end(
        JSON.stringify({
          agent: { pid: 999999, startedAtMs: 0, lastSampleAtMs: null },
          pods: [],
          swap: { enabled: false, capacityMiB: 0, usedMiB: 0 },
          allocator: 'not connected',
        }),
      );
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    writeState(4242, (s.address() as AddressInfo).port, 1_000);
    const r = await probeHealth({ driver: driver(INVENTORY), dataDir: dir, now: () => 13_400 });
    expect(r.agent.running).toBe(false);
    expect(r.agent.source).toBe('state-file');
    expect(r.agent.message).toBe(`not running (state file ${stateFilePath(dir)} is 12s old)`);
  });

  it("reads the allocator link's state from the agent's status and prints it", async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-health-'));
    const allocator = {
      state: 'welcomed' as const,
      url: 'ws://alloc:7400/api/v1/agents/connect',
      nodeId: 'n-1',
      connects: 2,
    };
    writeState(999_999, null, 1_000, allocator);
    const r = await probeHealth({ driver: driver(INVENTORY), dataDir: dir, now: () => 2_000 });
    expect(r.agent.view?.allocator).toEqual(allocator);
    expect(formatHealth(r)).toMatch(
      /; allocator: welcomed \(ws:\/\/alloc:7400\/api\/v1\/agents\/connect, node n-1\)$/m,
    );
  });

  it('is unhealthy when the driver fails, and says why', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-health-'));
    const r = await probeHealth({ driver: driver(null), dataDir: dir });
    expect(r.level).toBe('unhealthy');
    expect(r.driver).toMatchObject({ ok: false, error: expect.stringContaining('--gpu sim') });
    expect(healthExitCode(r)).toBe(1);
  });
});
