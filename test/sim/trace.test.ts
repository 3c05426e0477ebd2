import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTraceNodes, readTracePods, traceNodesToState } from '../../sim/trace.ts';

const TRACES = new URL('../fixtures/traces/alibaba-gpu-v2023/', import.meta.url);
const POD_HEADER =
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';

describe('readTracePods', () => {
  it('reads the 11-column format with GPU types, QoS, phase and times', () => {
    const r = readTracePods(
      `${POD_HEADER}\np0,12000,16384,1,460,V100M16|V100M32,LS,Running,0,12537496,5\r\np1,4000,100,0,0,,BE,Failed,,,\n`,
      'pods.csv',
    );
    expect(r.ok && r.value).toEqual([
      {
        name: 'p0',
        cpuMillis: 12000,
        memoryMiB: 16384,
        numGpu: 1,
        gpuMilli: 460,
        gpuSpec: ['V100M16', 'V100M32'],
        qos: 'LS',
        phase: 'Running',
        creationTimeS: 0,
        deletionTimeS: 12537496,
        scheduledTimeS: 5,
      },
      {
        name: 'p1',
        cpuMillis: 4000,
        memoryMiB: 100,
        numGpu: 0,
        gpuMilli: 0,
        gpuSpec: [],
        qos: 'BE',
        phase: 'Failed',
      },
    ]);
  });

  it('reads the 5-column multigpu20 format (no type, QoS, phase or times)', () => {
    const r = readTracePods('name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,88000,327680,8,1000\n', 'm.csv');
    expect(r.ok && r.value).toEqual([
      { name: 'p0', cpuMillis: 88000, memoryMiB: 327680, numGpu: 8, gpuMilli: 1000, gpuSpec: [] },
    ]);
  });

  it('names file, line, column and value of a bad cell', () => {
    const r = readTracePods(
      `${POD_HEADER}\np0,1000,1,0,0,,LS,Running,0,1,0\np1,12k,1,0,0,,LS,Running,0,1,0\n`,
      'x.csv',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('TESSERA_E_INVALID_TRACE');
    expect(r.error.message).toContain('x.csv:3: column cpu_milli: "12k" is not a whole number');
    expect(r.error.field).toBe('cpu_milli');
    expect(r.error.context).toMatchObject({ file: 'x.csv', line: 3, column: 'cpu_milli', value: '12k' });
  });

  it('rejects shapes the trace format does not have: shares on multi-GPU pods, milli above 1000, bad times', () => {
    const bad = (row: string) => {
      const r = readTracePods(`${POD_HEADER}\n${row}\n`, 'p.csv');
      return r.ok ? '' : r.error.message;
    };
    expect(bad('p,1,1,2,500,,,,,,')).toMatch(/p\.csv:2: column gpu_milli: "500" is not 1000/);
    expect(bad('p,1,1,1,1001,,,,,,')).toMatch(/column gpu_milli: "1001"/);
    expect(bad('p,1,1,0,300,,,,,,')).toMatch(/column gpu_milli: "300" is not 0/);
    expect(bad('p,1,1,1,0,,,,,,')).toMatch(/column gpu_milli: "0" is not from 1 to 1000/);
    expect(bad('p,1,1,0,0,,,,-3,,')).toMatch(/column creation_time: "-3"/);
    expect(bad(',1,1,0,0,,,,,,')).toMatch(/column name: "" is not a non-empty name/);
  });

  it('names the missing header columns and duplicate names', () => {
    const r = readTracePods('name,cpu_milli,num_gpu\np,1,0\n', 'h.csv');
    expect(!r.ok && r.error.message).toBe(
      'h.csv:1: header lacks columns memory_mib, gpu_milli (found: name,cpu_milli,num_gpu)',
    );
    const d = readTracePods('name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,0,0\np,1,1,0,0\n', 'd.csv');
    expect(!d.ok && d.error.message).toMatch(
      /d\.csv:3: column name: "p" is not a new name \(line 2 has it already\)/,
    );
  });

  it('reads the real default trace', () => {
    const r = readTracePods(readFileSync(new URL('openb_pod_list_default.csv', TRACES), 'utf8'), 'default');
    expect(r.ok && r.value.length).toBe(8152);
  });
});

describe('readTraceNodes and traceNodesToState', () => {
  it('reads the node list and builds free state with GPU memory by model', () => {
    const r = readTraceNodes(
      readFileSync(new URL('openb_node_list_gpu_node.csv', TRACES), 'utf8'),
      'openb_node_list_gpu_node.csv',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.length).toBe(1213);
    expect(r.value.reduce((s, n) => s + n.gpuCount, 0)).toBe(6212);
    const [t4, g2] = traceNodesToState([
      { name: 't', cpuMillis: 1000, memoryMiB: 2000, gpuCount: 2, model: 'T4' },
      { name: 'g', cpuMillis: 1000, memoryMiB: 2000, gpuCount: 1, model: 'G2' },
    ]);
    expect(t4?.gpus.map((g) => [g.index, g.memoryMiB, g.freeMilli])).toEqual([
      [0, 16384, 1000],
      [1, 16384, 1000],
    ]);
    expect(g2?.gpus[0]?.memoryMiB).toBe(32768);
    expect(t4).toMatchObject({
      pool: 'default',
      cpuFreeMillis: 1000,
      memoryFreeMiB: 2000,
      schedulable: true,
    });
  });

  it('names line and column of a bad node row', () => {
    const r = readTraceNodes('sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,2,\n', 'n.csv');
    expect(!r.ok && r.error.message).toBe('n.csv:2: column model: "" is not a GPU model (the node has GPUs)');
  });
});
