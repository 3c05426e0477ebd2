import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatAge, formatData, formatTable, printData } from '../../../cli/client/output.ts';
import { gpusCell, podsCell } from '../../../cli/client/views.ts';
import { bufferIo } from '../../../cli/io.ts';
import type { PodResources } from '../../../common/workload.ts';

describe('client output', () => {
  it('aligns table columns under a header row, left-aligned, no trailing spaces', () => {
    const text = formatTable({
      header: ['NAME', 'PHASE', 'GPUS'],
      rows: [
        ['resnet-50', 'Running', '0.5'],
        ['bert', 'Pending', '2'],
      ],
    });
    expect(text).toBe(
      ['NAME       PHASE    GPUS', 'resnet-50  Running  0.5', 'bert       Pending  2', ''].join('\n'),
    );
  });

  it('prints JSON with a 2-space indent and YAML that parses back to the same data', () => {
    const data = [{ name: 'resnet', pods: [{ phase: 'Running' }] }];
    expect(formatData('json', data)).toBe(`${JSON.stringify(data, null, 2)}\n`);
    expect(parse(formatData('yaml', data))).toEqual(data);
  });

  it('builds the table only when a table is asked for', () => {
    const io = bufferIo();
    let built = 0;
    const human = () => {
      built += 1;
      return 'table\n';
    };
    printData(io, 'json', { a: 1 }, human);
    printData(io, 'table', { a: 1 }, human);
    expect(built).toBe(1);
    expect(io.stdout).toBe('{\n  "a": 1\n}\ntable\n');
  });

  it('shows ages in the largest whole unit', () => {
    const t = Date.parse('2026-01-02T00:00:00Z');
    expect(formatAge('2026-01-01T23:59:15Z', t)).toBe('45s');
    expect(formatAge('2026-01-01T23:00:00Z', t)).toBe('60m');
    expect(formatAge('2026-01-01T12:00:00Z', t)).toBe('12h');
    expect(formatAge('2025-12-28T00:00:00Z', t)).toBe('5d');
    expect(formatAge('not a time', t)).toBe('-');
  });

  it('shows GPU requests in the unit asked, times replicas, and pods running of wanted', () => {
    const res = (gpu: PodResources['gpu']): PodResources => ({ gpu, cpuMillis: 0, memoryMiB: 0 });
    expect(gpusCell({ resources: res({ kind: 'none' }), replicas: 3 })).toBe('-');
    expect(gpusCell({ resources: res({ kind: 'devices', count: 2 }), replicas: 1 })).toBe('2');
    expect(gpusCell({ resources: res({ kind: 'fraction', milli: 500, limitMiB: 40960 }), replicas: 1 })).toBe(
      '0.5 (limit 40GiB)',
    );
    expect(gpusCell({ resources: res({ kind: 'memory', memoryMiB: 20480 }), replicas: 4 })).toBe('4x20GiB');
    const pod = (phase: 'Running' | 'Pending') => ({
      name: 'p',
      node: null,
      phase,
      gpus: [],
      exitCode: null,
      ports: {},
    });
    expect(podsCell({ pods: [pod('Running'), pod('Pending')], replicas: 2 })).toBe('1/2');
  });
});
