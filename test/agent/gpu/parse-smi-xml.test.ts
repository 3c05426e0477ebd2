import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GpuInfo, GpuInventory } from '../../../agent/gpu/driver.ts';
import { parseSmiXml } from '../../../agent/gpu/parse-smi-xml.ts';

const PUBLIC = new URL('../../fixtures/nvidia/public/', import.meta.url);
const LOCAL = new URL('../../fixtures/nvidia/', import.meta.url);
const HANDMADE = new URL('../../fixtures/nvidia/handmade/', import.meta.url);

function read(dir: URL, name: string): string {
  return readFileSync(new URL(name, dir), 'utf8');
}

function inventory(xml: string): GpuInventory {
  const r = parseSmiXml(xml);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function gpu(inv: GpuInventory, i: number): GpuInfo {
  const g = inv.gpus[i];
  if (g === undefined) throw new Error(`no GPU ${i}`);
  return g;
}

describe('parseSmiXml on hand-made shapes', () => {
  it('reads 8 H100s with their processes, power cap and idle GPU', () => {
    const inv = inventory(read(HANDMADE, 'smi-q-x_8xH100-80GB-HBM3_driver580_processes.xml'));
    expect(inv.driverVersion).toBe('580.95.05');
    expect(inv.cudaVersion).toBe('13.0');
    expect(inv.gpus).toHaveLength(8);
    expect(inv.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(inv.gpus.map((g) => g.processes.length)).toEqual([2, 1, 1, 1, 1, 1, 1, 0]);
    expect(gpu(inv, 0)).toEqual({
      index: 0,
      minorNumber: 0,
      pciBusId: '00000000:18:00.0',
      uuid: 'GPU-1a2b3c4d-0000-4a1b-8c2d-000000000000',
      model: 'NVIDIA H100 80GB HBM3',
      memoryTotalMiB: 81559,
      memoryReservedMiB: 579,
      memoryUsedMiB: 71428,
      migMode: 'disabled',
      migDevices: [],
      eccUncorrectedVolatile: 0,
      eccUncorrectedAggregate: 0,
      temperatureC: 61,
      temperatureSlowdownC: null,
      temperatureShutdownC: null,
      temperatureTlimitMarginC: 26,
      powerDrawW: 660.48,
      powerLimitW: 700,
      utilizationPct: 98,
      throttleReasons: [],
      processes: [
        {
          pid: 41207,
          name: '/usr/bin/python3',
          usedMemoryMiB: 70912,
          gpuInstanceId: null,
          computeInstanceId: null,
        },
        {
          pid: 41890,
          name: '/opt/nvidia/nsight-systems/bin/nsys',
          usedMemoryMiB: 512,
          gpuInstanceId: null,
          computeInstanceId: null,
        },
      ],
    });
    expect(gpu(inv, 3).throttleReasons).toEqual(['sw_power_cap']);
    expect(gpu(inv, 3).powerDrawW).toBe(700.12);
    // Idle is a clock event reason nvidia-smi reports, but not a health problem.
    expect(gpu(inv, 7).throttleReasons).toEqual([]);
    expect(gpu(inv, 7).utilizationPct).toBe(0);
    expect(new Set(inv.gpus.map((g) => g.uuid)).size).toBe(8);
  });

  it('reads MIG mode, the MIG devices and the instance each process runs in', () => {
    const g = gpu(inventory(read(HANDMADE, 'smi-q-x_1xH100-80GB-HBM3-MIG_driver580_processes.xml')), 0);
    expect(g.migMode).toBe('enabled');
    expect(g.utilizationPct).toBeNull();
    expect(g.memoryUsedMiB).toBe(11125);
    expect(g.migDevices).toEqual([
      {
        index: 0,
        gpuInstanceId: 2,
        computeInstanceId: 0,
        memoryTotalMiB: 40448,
        memoryUsedMiB: 11091,
        uuid: null,
      },
      {
        index: 1,
        gpuInstanceId: 3,
        computeInstanceId: 0,
        memoryTotalMiB: 20096,
        memoryUsedMiB: 17,
        uuid: null,
      },
      {
        index: 2,
        gpuInstanceId: 9,
        computeInstanceId: 0,
        memoryTotalMiB: 9984,
        memoryUsedMiB: 9,
        uuid: null,
      },
      {
        index: 3,
        gpuInstanceId: 10,
        computeInstanceId: 0,
        memoryTotalMiB: 9984,
        memoryUsedMiB: 9,
        uuid: null,
      },
    ]);
    expect(g.processes).toEqual([
      { pid: 21180, name: '/root/tools/memhog', usedMemoryMiB: 2296, gpuInstanceId: 2, computeInstanceId: 0 },
      { pid: 21181, name: '/root/tools/memhog', usedMemoryMiB: 1272, gpuInstanceId: 2, computeInstanceId: 0 },
      { pid: 21198, name: './gpu_burn', usedMemoryMiB: 7484, gpuInstanceId: 2, computeInstanceId: 0 },
    ]);
  });

  it('turns every N/A, Unknown Error, [Not Supported] and empty value into null', () => {
    const inv = inventory(read(HANDMADE, 'smi-q-x_1xT4_driver515_all-NA.xml'));
    expect(inv.cudaVersion).toBeNull();
    expect(inv.gpus).toEqual([
      {
        index: 0,
        minorNumber: null,
        pciBusId: '00000000:00:1E.0',
        uuid: 'GPU-d37e67a5-91dd-3774-a5cb-99096249601a',
        model: 'Tesla T4',
        memoryTotalMiB: 15360,
        memoryReservedMiB: null,
        memoryUsedMiB: null,
        migMode: 'unsupported',
        migDevices: [],
        eccUncorrectedVolatile: null,
        eccUncorrectedAggregate: null,
        temperatureC: null,
        temperatureSlowdownC: null,
        temperatureShutdownC: null,
        temperatureTlimitMarginC: null,
        powerDrawW: null,
        powerLimitW: null,
        utilizationPct: null,
        throttleReasons: [],
        processes: [
          { pid: 675, name: '', usedMemoryMiB: null, gpuInstanceId: null, computeInstanceId: null },
        ],
      },
    ]);
  });

  it('sums uncorrectable ECC errors and lists thermal throttling', () => {
    const g = gpu(
      inventory(read(HANDMADE, 'smi-q-x_1xA100-SXM4-80GB_driver535_ecc-errors_thermal-slowdown.xml')),
      0,
    );
    expect(g.eccUncorrectedVolatile).toBe(3);
    expect(g.eccUncorrectedAggregate).toBe(7);
    expect(g.temperatureC).toBe(91);
    expect(g.temperatureSlowdownC).toBe(89);
    expect(g.temperatureShutdownC).toBe(92);
    expect(g.throttleReasons).toEqual(['hw_slowdown', 'hw_thermal_slowdown', 'sw_thermal_slowdown']);
    expect(g.powerDrawW).toBe(212.38);
    expect(g.powerLimitW).toBe(500);
    expect(g.migMode).toBe('disabled');
    expect(g.processes).toEqual([
      {
        pid: 90412,
        name: '/opt/conda/bin/python',
        usedMemoryMiB: 61404,
        gpuInstanceId: null,
        computeInstanceId: null,
      },
    ]);
  });
});

describe('parseSmiXml on schema variants of real captures', () => {
  it('reads the real H200 (driver 580, v13: gpu_power_readings, instant_power_draw, T.Limit temperatures)', () => {
    const inv = inventory(read(LOCAL, 'smi-q-x_1xH200_driver580.xml'));
    expect(inv).toMatchObject({ driverVersion: '580.159.04', cudaVersion: '13.0' });
    expect(gpu(inv, 0)).toMatchObject({
      uuid: 'GPU-ebb0d8ad-354c-0c85-414f-67689156434e',
      model: 'NVIDIA H200',
      pciBusId: '00000000:00:06.0',
      memoryTotalMiB: 143771,
      memoryReservedMiB: 616,
      memoryUsedMiB: 0,
      migMode: 'disabled',
      eccUncorrectedVolatile: 0,
      temperatureC: 34,
      temperatureSlowdownC: null,
      temperatureTlimitMarginC: 53,
      powerDrawW: 80.59,
      powerLimitW: 700,
      throttleReasons: [],
      processes: [],
    });
  });

  it('reads old power_readings / power_draw / power_limit and clocks_throttle_reasons (driver 460)', () => {
    const inv = inventory(read(PUBLIC, 'smi-q-x_8xV100S-PCIE-32GB_driver460_processes.xml'));
    expect(inv.gpus).toHaveLength(8);
    expect(gpu(inv, 0)).toMatchObject({ powerDrawW: 232.8, powerLimitW: 250, temperatureSlowdownC: 87 });
    expect(gpu(inv, 3).throttleReasons).toEqual(['sw_power_cap']);
    // The same training process holds memory on all eight GPUs: one pid, eight rows.
    expect(inv.gpus.every((g) => g.processes.some((p) => p.pid === 37305))).toBe(true);
  });

  it('reads uncorrectable errors from the double_bit totals of pre-Ampere drivers', () => {
    const xml = read(PUBLIC, 'smi-q-x_1xTesla-P100-PCIE_driver510.xml');
    expect(gpu(inventory(xml), 0).eccUncorrectedAggregate).toBe(0);
    // Make the aggregate double-bit total 4 (the second <total> inside <double_bit> blocks).
    const withErrors = xml.replace(
      /(<aggregate>[\s\S]*?<double_bit>[\s\S]*?<total>)0(<\/total>)/,
      (_m, a: string, b: string) => `${a}4${b}`,
    );
    expect(gpu(inventory(withErrors), 0).eccUncorrectedAggregate).toBe(4);
    expect(gpu(inventory(withErrors), 0).eccUncorrectedVolatile).toBe(0);
  });

  it('reads the split SRAM parity / SEC-DED counters of DTD v13', () => {
    const xml = read(LOCAL, 'smi-q-x_1xH200_driver580.xml').replace(
      /<volatile>([\s\S]*?)<sram_uncorrectable_parity>0<\/sram_uncorrectable_parity>([\s\S]*?)<dram_uncorrectable>0/,
      (_m, a: string, b: string) =>
        `<volatile>${a}<sram_uncorrectable_parity>2</sram_uncorrectable_parity>${b}<dram_uncorrectable>5`,
    );
    expect(gpu(inventory(xml), 0).eccUncorrectedVolatile).toBe(7);
    expect(gpu(inventory(xml), 0).eccUncorrectedAggregate).toBe(0);
  });

  it('takes the index from the listing order, not the minor number (dual A5000, minors 1 then 0)', () => {
    const inv = inventory(read(PUBLIC, 'smi-q-x_2xRTX-A5000_driver590_v13_processes.xml'));
    expect(inv.gpus.map((g) => [g.index, g.minorNumber, g.pciBusId])).toEqual([
      [0, 1, '00000000:81:00.0'],
      [1, 0, '00000000:C1:00.0'],
    ]);
  });

  it('keeps WDDM processes whose memory is N/A and whose name is empty', () => {
    const g = gpu(inventory(read(PUBLIC, 'smi-q-x_1xRTX2080_windows-WDDM_driver516_processes.xml')), 0);
    expect(g.minorNumber).toBeNull();
    expect(g.processes).toHaveLength(26);
    expect(g.processes.every((p) => p.usedMemoryMiB === null)).toBe(true);
    expect(g.processes.filter((p) => p.name === '')).toHaveLength(5);
  });

  it('reads MIG devices of a driver-510 A100 and N/A utilization under MIG', () => {
    const g = gpu(inventory(read(PUBLIC, 'smi-q-x_1xA100-SXM4-40GB-MIG_driver510.xml')), 0);
    expect(g.migMode).toBe('enabled');
    expect(g.migDevices.map((d) => [d.gpuInstanceId, d.computeInstanceId, d.memoryTotalMiB])).toEqual([
      [1, 0, 19968],
      [2, 0, 19968],
    ]);
    expect(g.utilizationPct).toBeNull();
    expect(g.eccUncorrectedVolatile).toBeNull();
    expect(g.eccUncorrectedAggregate).toBe(0);
  });
});

describe('parseSmiXml on every public capture', () => {
  const names = readdirSync(PUBLIC).filter((n) => n.endsWith('.xml'));

  it('finds the public captures (test/fixtures/nvidia/public)', () => {
    expect(names.length).toBeGreaterThanOrEqual(12);
  });

  it.each(names)('%s parses with sane values', (name) => {
    const r = parseSmiXml(read(PUBLIC, name));
    if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
    const inv = r.value;
    expect(inv.driverVersion).toMatch(/^\d+\.\d+/);
    expect(inv.gpus.length).toBeGreaterThan(0);
    for (const g of inv.gpus) {
      expect(g.uuid).toMatch(/^GPU-[0-9a-f-]+$/);
      expect(g.model.length).toBeGreaterThan(0);
      expect(g.memoryTotalMiB).toBeGreaterThan(0);
      expect(g.index).toBeGreaterThanOrEqual(0);
      for (const t of [g.temperatureC, g.temperatureSlowdownC, g.temperatureShutdownC]) {
        if (t === null) continue;
        expect(t).toBeGreaterThan(0);
        expect(t).toBeLessThan(130);
      }
      if (g.memoryUsedMiB !== null) expect(g.memoryUsedMiB).toBeLessThanOrEqual(g.memoryTotalMiB);
      if (g.powerDrawW !== null) expect(g.powerDrawW).toBeGreaterThanOrEqual(0);
      if (g.utilizationPct !== null) expect(g.utilizationPct).toBeLessThanOrEqual(100);
      for (const p of g.processes) expect(p.pid).toBeGreaterThan(0);
      expect(g.throttleReasons).not.toContain('gpu_idle');
    }
  });
});

describe('parseSmiXml errors', () => {
  const h200 = read(LOCAL, 'smi-q-x_1xH200_driver580.xml');

  it.each([
    ['uuid', /<uuid>[^<]*<\/uuid>/, '<uuid>N/A</uuid>'],
    ['product_name', /<product_name>[^<]*<\/product_name>/, ''],
    ['fb_memory_usage.total', /(<fb_memory_usage>\s*)<total>[^<]*<\/total>/, '$1'],
  ])('names the GPU and the field when %s is missing', (field, pattern, replacement) => {
    const r = parseSmiXml(h200.replace(pattern, replacement));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('TESSERA_E_GPU_DRIVER');
    expect(r.error.field).toBe(field);
    expect(r.error.message).toContain('GPU 0 (00000000:00:06.0)');
    expect(r.error.message).toContain(field);
  });

  it('rejects a memory total that is not a size', () => {
    const r = parseSmiXml(h200.replace('<total>143771 MiB</total>', '<total>lots</total>'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('"lots"');
  });

  it('rejects malformed XML with its line', () => {
    const r = parseSmiXml(h200.replace('</product_name>', '</product>'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/malformed XML at line \d+/);
  });

  it('rejects output that is not an nvidia_smi_log or has no driver version', () => {
    const notLog = parseSmiXml('<?xml version="1.0" ?><html></html>');
    expect(notLog.ok).toBe(false);
    const noDriver = parseSmiXml(h200.replace(/<driver_version>[^<]*<\/driver_version>/, ''));
    expect(noDriver.ok).toBe(false);
    if (!noDriver.ok) expect(noDriver.error.field).toBe('driver_version');
  });
});
