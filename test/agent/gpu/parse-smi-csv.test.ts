import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  csvHeaderColumns,
  parseAppsCsv,
  parseAppsCsvLine,
  parseGpuCsv,
  parseGpuCsvLine,
} from '../../../agent/gpu/parse-smi-csv.ts';
import { smiMiB, smiNumber, smiText } from '../../../agent/gpu/smi-values.ts';

const PUBLIC = new URL('../../fixtures/nvidia/public/', import.meta.url);
const LOCAL = new URL('../../fixtures/nvidia/', import.meta.url);

function read(dir: URL, name: string): string {
  return readFileSync(new URL(name, dir), 'utf8');
}

describe('nvidia-smi values', () => {
  it.each([
    'N/A',
    '[N/A]',
    '[Not Supported]',
    'Not Supported',
    'Unknown Error',
    '',
    '  ',
    '[Function Not Found]',
  ])('%j is no value', (raw) => {
    expect(smiText(raw)).toBeNull();
    expect(smiNumber(raw)).toBeNull();
  });

  it('reads numbers with and without units', () => {
    expect(smiNumber('80.47 W')).toBe(80.47);
    expect(smiNumber('34 C')).toBe(34);
    expect(smiNumber('-8 C')).toBe(-8);
    expect(smiNumber('100 %')).toBe(100);
    expect(smiNumber('28.16')).toBe(28.16);
    expect(smiNumber('P0')).toBeUndefined();
    expect(smiMiB('143771 MiB')).toBe(143771);
    expect(smiMiB('2 GiB')).toBe(2048);
    expect(smiMiB('4096')).toBe(4096);
    expect(smiMiB('3 bank(s)')).toBeUndefined();
  });
});

describe('parseGpuCsvLine (the sampler format: noheader, nounits)', () => {
  it('reads a line of the sampled fields', () => {
    expect(
      parseGpuCsvLine('0, GPU-ebb0d8ad-354c-0c85-414f-67689156434e, 37, 4614, 143771, 41, 123.45'),
    ).toEqual({
      ok: true,
      value: {
        index: 0,
        uuid: 'GPU-ebb0d8ad-354c-0c85-414f-67689156434e',
        utilizationPct: 37,
        memoryUsedMiB: 4614,
        memoryTotalMiB: 143771,
        temperatureC: 41,
        powerDrawW: 123.45,
      },
    });
  });

  it('reads [N/A] and [Not Supported] as null (MIG utilization, a fanless card)', () => {
    const r = parseGpuCsvLine('3, GPU-1, [N/A], 59, 81559, [Not Supported], [N/A]');
    expect(r.ok && r.value).toMatchObject({
      index: 3,
      utilizationPct: null,
      temperatureC: null,
      powerDrawW: null,
    });
  });

  it('rejects a short line, a garbled number and a missing uuid, quoting the line', () => {
    for (const line of ['0, GPU-1, 37', '0, GPU-1, lots, 1, 2, 3, 4', '0, N/A, 1, 1, 2, 3, 4']) {
      const r = parseGpuCsvLine(line);
      expect(r.ok, line).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('TESSERA_E_GPU_DRIVER');
        expect(r.error.message).toContain(JSON.stringify(line));
      }
    }
  });
});

describe('parseAppsCsvLine', () => {
  it('reads gpu uuid, pid and memory', () => {
    expect(parseAppsCsvLine('GPU-ebb0d8ad-354c-0c85-414f-67689156434e, 660, 4614')).toEqual({
      ok: true,
      value: { gpuUuid: 'GPU-ebb0d8ad-354c-0c85-414f-67689156434e', pid: 660, usedMemoryMiB: 4614 },
    });
    expect(parseAppsCsvLine('GPU-1, 2140, [N/A]')).toEqual({
      ok: true,
      value: { gpuUuid: 'GPU-1', pid: 2140, usedMemoryMiB: null },
    });
  });

  it('rejects a line without a pid', () => {
    const r = parseAppsCsvLine('GPU-1, [N/A], 12');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('pid');
  });
});

describe('CSV parser on the public captures (header form, units in values)', () => {
  const names = readdirSync(PUBLIC).filter((n) => n.endsWith('.csv'));

  it.each(names.filter((n) => n.startsWith('query-gpu')))('%s parses with sane values', (name) => {
    const r = parseGpuCsv(read(PUBLIC, name));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).toHaveLength(1);
    for (const row of r.value) {
      expect(row.uuid).toMatch(/^GPU-/);
      expect(row.index).toBe(0);
      if (row.temperatureC !== null) expect(row.temperatureC).toBeGreaterThan(0);
      if (row.memoryUsedMiB !== null && row.memoryTotalMiB !== null) {
        expect(row.memoryUsedMiB).toBeLessThanOrEqual(row.memoryTotalMiB);
      }
    }
  });

  it.each(names.filter((n) => n.startsWith('query-compute-apps')))('%s parses', (name) => {
    const r = parseAppsCsv(read(PUBLIC, name));
    if (!r.ok) throw new Error(r.error.message);
    for (const row of r.value) {
      expect(row.gpuUuid).toMatch(/^GPU-/);
      expect(row.pid).toBeGreaterThan(0);
    }
  });

  it('reads exact values of the H100 under load (212 fields, units in values)', () => {
    const r = parseGpuCsv(read(PUBLIC, 'query-gpu_1xH100-80GB-HBM3_load_all-fields_driver590.csv'));
    expect(r.ok && r.value).toEqual([
      {
        index: 0,
        uuid: 'GPU-00000000-0000-0000-0000-000000000000',
        utilizationPct: 100,
        memoryUsedMiB: 19818,
        memoryTotalMiB: 81559,
        temperatureC: 59,
        powerDrawW: 631.95,
      },
    ]);
  });

  it('reads N/A utilization under MIG and the P100 query that lacks index and memory.total', () => {
    const mig = parseGpuCsv(read(PUBLIC, 'query-gpu_1xH100-MIG_idle_all-fields_driver590.csv'));
    expect(mig.ok && mig.value[0]?.utilizationPct).toBeNull();
    const p100 = parseGpuCsv(read(PUBLIC, 'query-gpu_1xTesla-P100_15fields_driver510.csv'));
    expect(p100.ok && p100.value[0]).toMatchObject({ index: 0, memoryTotalMiB: null, powerDrawW: 28.16 });
  });

  it('reads processes, used_gpu_memory as used_memory, a header alone as none, [N/A] memory as null', () => {
    const load = parseAppsCsv(read(PUBLIC, 'query-compute-apps_1xH100-80GB-HBM3_load_3procs.csv'));
    expect(load.ok && load.value.map((p) => [p.pid, p.usedMemoryMiB])).toEqual([
      [11327, 2566],
      [11328, 1542],
      [11345, 15690],
    ]);
    expect(parseAppsCsv(read(PUBLIC, 'query-compute-apps_1xL40S_idle_header-only.csv'))).toEqual({
      ok: true,
      value: [],
    });
    const wddm = parseAppsCsv(
      read(PUBLIC, 'query-compute-apps_1xRTX2080SUPER_windows-WDDM_load_NA-memory.csv'),
    );
    expect(wddm.ok && wddm.value).toHaveLength(21);
    expect(wddm.ok && wddm.value.every((p) => p.usedMemoryMiB === null)).toBe(true);
  });

  it('reads the real H200 query and says which column an apps query lacks', () => {
    const gpus = parseGpuCsv(read(LOCAL, 'query-gpu_1xH200_driver580.csv'));
    expect(gpus.ok && gpus.value[0]).toMatchObject({ memoryTotalMiB: 143771, powerDrawW: 80.47 });
    // That capture asked for pid,process_name,used_gpu_memory: a process row needs the GPU's uuid.
    const apps = parseAppsCsv(read(LOCAL, 'query-compute-apps_1xH200_2procs.csv'));
    expect(apps.ok).toBe(false);
    if (!apps.ok) expect(apps.error.message).toMatch(/line 2: the query has no gpu_uuid column/);
  });

  it('recognises header lines and strips their units', () => {
    expect(csvHeaderColumns('index, uuid, memory.used [MiB], used_gpu_memory [MiB]')).toEqual([
      'index',
      'uuid',
      'memory.used',
      'used_memory',
    ]);
    expect(csvHeaderColumns('0, GPU-1, 5, 7')).toBeNull();
  });
});
