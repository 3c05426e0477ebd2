import { describe, expect, it } from 'vitest';
import type { Result } from '../../common/errors.ts';
import {
  gangSize,
  isPreemptible,
  PRIORITY_VALUES,
  parseWorkloadSpec,
  type WorkloadSpec,
} from '../../common/workload.ts';
import { failure, value } from '../result.ts';

const base = { name: 'resnet', project: 'vision', command: ['python', 'train.py'] };

function spec(extra: Record<string, unknown>): Result<WorkloadSpec> {
  return parseWorkloadSpec({ ...base, ...extra });
}

describe('priorities', () => {
  it('has the four classes with their values, preemptible below 100', () => {
    expect(PRIORITY_VALUES).toEqual({ train: 50, 'build-preemptible': 75, build: 100, inference: 125 });
    expect(isPreemptible(50)).toBe(true);
    expect(isPreemptible(75)).toBe(true);
    expect(isPreemptible(100)).toBe(false);
    expect(isPreemptible(125)).toBe(false);
  });
});

describe('defaults per workload type', () => {
  it('workspace: 1 pod, build class, not preemptible, not elastic', () => {
    const s = value(spec({ type: 'workspace' }));
    expect(s).toMatchObject({
      type: 'workspace',
      priorityClass: 'build',
      priority: 100,
      preemptible: false,
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 1,
    });
    expect(gangSize(s)).toBe(1);
  });

  it('training: 1 pod, train class, preemptible', () => {
    expect(value(spec({ type: 'training' }))).toMatchObject({
      priorityClass: 'train',
      priority: 50,
      preemptible: true,
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 1,
    });
  });

  it('distributed: 2 pods by default, train class, gang of minReplicas', () => {
    const s = value(spec({ type: 'distributed' }));
    expect(s).toMatchObject({
      priorityClass: 'train',
      preemptible: true,
      replicas: 2,
      minReplicas: 2,
      maxReplicas: 2,
    });
    expect(gangSize(s)).toBe(2);
  });

  it('distributed: min and max default to replicas', () => {
    expect(value(spec({ type: 'distributed', replicas: 4 }))).toMatchObject({
      replicas: 4,
      minReplicas: 4,
      maxReplicas: 4,
    });
  });

  it('distributed: an unset replica count is pulled into the range given', () => {
    expect(value(spec({ type: 'distributed', minReplicas: 4, maxReplicas: 8 }))).toMatchObject({
      replicas: 4,
      minReplicas: 4,
      maxReplicas: 8,
    });
    expect(value(spec({ type: 'distributed', maxReplicas: 1 }))).toMatchObject({
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 1,
    });
  });

  it('inference: 1 pod by default, inference class, not preemptible, elastic', () => {
    const s = value(spec({ type: 'inference', minReplicas: 1, maxReplicas: 5 }));
    expect(s).toMatchObject({
      priorityClass: 'inference',
      priority: 125,
      preemptible: false,
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 5,
    });
    expect(gangSize(s)).toBe(1);
  });

  it('fills the rest: env {}, nodePools [default], no node or GPU filters, CPU-only, no min runtime, no image or mounts, restart Never (limit 6), not public', () => {
    expect(value(spec({ type: 'training' }))).toEqual({
      ...base,
      type: 'training',
      priorityClass: 'train',
      priority: 50,
      preemptible: true,
      env: {},
      nodePools: ['default'],
      nodeTypes: [],
      gpuModels: [],
      replicas: 1,
      minReplicas: 1,
      maxReplicas: 1,
      resources: { gpu: { kind: 'none' }, cpuMillis: 0, memoryMiB: 0 },
      minRuntimeMs: 0,
      disconnect: { kind: 'keep' },
      mounts: [],
      restartPolicy: 'Never',
      backoffLimit: 6,
      public: false,
      ports: [],
    });
  });

  it('lets priorityClass override the type default, and preemptible follows it', () => {
    expect(value(spec({ type: 'workspace', priorityClass: 'build-preemptible' }))).toMatchObject({
      priorityClass: 'build-preemptible',
      priority: 75,
      preemptible: true,
    });
    expect(value(spec({ type: 'training', priorityClass: 'build' }))).toMatchObject({ preemptible: false });
  });
});

describe('the submit example of docs/architecture.md §7', () => {
  it('parses as written', () => {
    const s = value(
      parseWorkloadSpec({
        name: 'resnet',
        project: 'vision',
        type: 'training',
        priorityClass: 'train',
        command: ['python', 'train.py'],
        env: {},
        nodePools: ['default'],
        replicas: 1,
        minReplicas: 1,
        maxReplicas: 1,
        resources: { gpuFraction: 0.5, gpuMemoryLimitMiB: 40000, cpuMillis: 2000, memoryMiB: 8192 },
      }),
    );
    expect(s.resources).toEqual({
      gpu: { kind: 'fraction', milli: 500, limitMiB: 40000 },
      cpuMillis: 2000,
      memoryMiB: 8192,
    });
  });
});

describe('resources', () => {
  it.each([
    [{ gpuDevices: 2 }, { kind: 'devices', count: 2 }],
    [{ gpuFraction: '0.5' }, { kind: 'fraction', milli: 500 }],
    [{ gpuFraction: '250m' }, { kind: 'fraction', milli: 250 }],
    [
      { gpuFraction: 0.5, gpuFractionLimit: 1 },
      { kind: 'fraction', milli: 500, limitMilli: 1000 },
    ],
    [{ gpuMemory: '20GiB' }, { kind: 'memory', memoryMiB: 20480 }],
    [
      { gpuMemoryMiB: 10000, gpuMemoryLimit: '20Gi' },
      { kind: 'memory', memoryMiB: 10000, limitMiB: 20480 },
    ],
    [
      { gpuMemory: 4096, gpuFractionLimit: '0.5' },
      { kind: 'memory', memoryMiB: 4096, limitMilli: 500 },
    ],
    [{}, { kind: 'none' }],
  ] as const)('normalises %j', (resources, gpu) => {
    expect(value(spec({ type: 'training', resources })).resources.gpu).toEqual(gpu);
  });

  it('normalises cpu and memory in either spelling', () => {
    expect(
      value(spec({ type: 'training', resources: { cpu: '500m', memory: '8Gi' } })).resources,
    ).toMatchObject({
      cpuMillis: 500,
      memoryMiB: 8192,
    });
    expect(value(spec({ type: 'training', resources: { cpu: 2, memory: 100 } })).resources).toMatchObject({
      cpuMillis: 2000,
      memoryMiB: 100,
    });
  });

  it.each([
    [
      { gpuDevices: 1, gpuFraction: 0.5 },
      'resources.gpuFraction',
      'at most one of gpuDevices, gpuFraction, gpuMemory',
    ],
    [{ gpuFraction: 0.5, gpuMemory: '1Gi' }, 'resources.gpuMemory', 'got gpuFraction and gpuMemory'],
    [{ gpuDevices: 0 }, 'resources.gpuDevices', 'must be >= 1'],
    [{ gpuDevices: 1.5 }, 'resources.gpuDevices', 'whole number'],
    [{ gpuFraction: 1 }, 'resources.gpuFraction', 'use gpuDevices'],
    [{ gpuFraction: 0 }, 'resources.gpuFraction', 'strictly between 0 and 1'],
    [{ gpuFraction: 'half' }, 'resources.gpuFraction', 'invalid GPU quantity "half"'],
    [{ gpuFraction: true }, 'resources.gpuFraction', 'got boolean true'],
    [{ gpuFraction: 0.5, gpuFractionLimit: 0.4 }, 'resources.gpuFractionLimit', 'at least the request'],
    [{ gpuFraction: 0.5, gpuFractionLimit: 1.5 }, 'resources.gpuFractionLimit', '<= 1'],
    [
      { gpuMemory: '2Gi', gpuMemoryLimit: '1Gi' },
      'resources.gpuMemoryLimit',
      'at least the request (2048 MiB)',
    ],
    [{ gpuMemory: '0Gi' }, 'resources.gpuMemory', 'more than 0'],
    [{ gpuMemory: '2gb' }, 'resources.gpuMemory', 'unknown unit "gb"'],
    [{ gpuMemory: '1Gi', gpuMemoryMiB: 1024 }, 'resources.gpuMemoryMiB', 'either resources.gpuMemory or'],
    [{ gpuDevices: 1, gpuFractionLimit: 1 }, 'resources.gpuFractionLimit', 'only to a fractional request'],
    [{ gpuMemoryLimit: '1Gi' }, 'resources.gpuMemoryLimit', 'only to a fractional request'],
    [
      { gpuFraction: 0.5, gpuFractionLimit: 1, gpuMemoryLimitMiB: 100 },
      'resources.gpuMemoryLimitMiB',
      'at most one',
    ],
    [{ cpu: '-1' }, 'resources.cpu', 'negative'],
    [{ cpu: 1, cpuMillis: 1000 }, 'resources.cpuMillis', 'not both'],
    [{ memory: '8 GB x' }, 'resources.memory', 'invalid memory quantity'],
    [{ memoryMiB: -1 }, 'resources.memoryMiB', 'must be >= 0'],
    [{ gpu: 1 }, 'resources.gpu', 'unknown field (use gpuDevices'],
  ] as const)('refuses %j naming %s', (resources, field, why) => {
    const e = failure(spec({ type: 'training', resources }));
    expect(e.field).toBe(field);
    expect(e.message).toContain(field);
    expect(e.message).toContain(why);
  });

  it('uses the quantity error code for a bad quantity and the spec code for a bad shape', () => {
    expect(failure(spec({ type: 'training', resources: { memory: 'lots' } })).code).toBe(
      'TESSERA_E_INVALID_QUANTITY',
    );
    expect(failure(spec({ type: 'training', resources: { gpuDevices: 0 } })).code).toBe(
      'TESSERA_E_INVALID_SPEC',
    );
  });
});

describe('each bad top-level field is named, with why and what is accepted', () => {
  it.each([
    [{ name: 'ResNet' }, 'name', 'not in the accepted form', 'DNS-1123'],
    [{ name: 'a'.repeat(64) }, 'name', 'longer than 63', 'DNS-1123'],
    [{ name: '-x' }, 'name', 'not in the accepted form', 'lowercase'],
    [{ name: '' }, 'name', 'must not be empty', 'DNS-1123'],
    [{ name: undefined }, 'name', 'required', 'DNS-1123'],
    [{ project: undefined }, 'project', 'required', 'project'],
    [{ project: '' }, 'project', 'must not be empty', 'project'],
    [{ type: 'batch' }, 'type', 'got "batch"', 'workspace, training, distributed, inference'],
    [{ type: undefined }, 'type', 'required', 'workspace'],
    [
      { priorityClass: 'urgent' },
      'priorityClass',
      'got "urgent"',
      'train, build-preemptible, build, inference',
    ],
    [{ command: [] }, 'command', 'at least 1 item', 'non-empty array'],
    [
      { command: 'python train.py' },
      'command',
      'expected an array, got "python train.py"',
      'array of strings',
    ],
    [{ command: ['python', 3] }, 'command.1', 'expected a string', 'a string'],
    [{ command: [''] }, 'command.0', 'program must not be empty', 'non-empty'],
    [{ env: { A: 1 } }, 'env.A', 'expected a string', 'string value'],
    [{ env: { '1A': 'x' } }, 'env.1A', 'invalid variable name', 'not starting with a digit'],
    [{ env: ['A=1'] }, 'env', 'got an array', 'mapping variable names'],
    [{ nodePools: [] }, 'nodePools', 'at least 1 item', 'order of preference'],
    [{ nodePools: ['a', 'b', 'a'] }, 'nodePools.2', 'listed twice', 'each name at most once'],
    [{ nodeTypes: [''] }, 'nodeTypes.0', 'must not be empty', 'node type'],
    [{ gpuModels: 'H100' }, 'gpuModels', 'expected an array', 'GPU models'],
    [{ minRuntime: '5 minutes' }, 'minRuntime', 'invalid duration', "'40s'"],
    [{ minRuntime: '5m', minRuntimeMs: 1 }, 'minRuntimeMs', 'not both', 'milliseconds'],
    [
      { preemptible: true },
      'preemptible',
      'unknown field (preemptible follows the priority class',
      'fields accepted',
    ],
    [{ resources: 'big' }, 'resources', 'expected an object', 'gpuDevices'],
  ] as const)('%j -> %s', (extra, field, why, accepted) => {
    const e = failure(spec({ type: 'training', ...extra }));
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}:`)).toBe(true);
    expect(e.message).toContain(why);
    expect(e.message).toContain(accepted);
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, 'x', 3, []]) {
      const e = failure(parseWorkloadSpec(body));
      expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
      expect(e.field).toBeUndefined();
      expect(e.message).toContain('workload spec: expected an object');
    }
  });

  it('parses minRuntime into minRuntimeMs', () => {
    expect(value(spec({ type: 'training', minRuntime: '5m' })).minRuntimeMs).toBe(300_000);
    expect(value(spec({ type: 'training', minRuntime: 1500 })).minRuntimeMs).toBe(1500);
    expect(value(spec({ type: 'training', minRuntimeMs: 42 })).minRuntimeMs).toBe(42);
  });

  it('keeps the filters and pool order given', () => {
    expect(
      value(
        spec({
          type: 'training',
          nodePools: ['fast', 'default'],
          nodeTypes: ['dgx'],
          gpuModels: ['H100', 'A100'],
        }),
      ),
    ).toMatchObject({ nodePools: ['fast', 'default'], nodeTypes: ['dgx'], gpuModels: ['H100', 'A100'] });
  });

  it('accepts a 63-character DNS label with inner dashes', () => {
    const name = `a${'-b'.repeat(31)}`;
    expect(name).toHaveLength(63);
    expect(value(spec({ type: 'training', name })).name).toBe(name);
  });
});

describe('cross-field rules on replicas', () => {
  it.each([
    [{ type: 'workspace', replicas: 2 }, 'replicas', 'a workspace workload runs exactly 1 pod, got 2'],
    [{ type: 'training', maxReplicas: 3 }, 'maxReplicas', 'a training workload runs exactly 1 pod'],
    [{ type: 'training', minReplicas: 2 }, 'minReplicas', 'use type distributed or inference'],
    [
      { type: 'distributed', replicas: 2, minReplicas: 3 },
      'minReplicas',
      'minReplicas (3) must be <= replicas (2)',
    ],
    [
      { type: 'distributed', replicas: 4, maxReplicas: 3 },
      'maxReplicas',
      'maxReplicas (3) must be >= replicas (4)',
    ],
    [{ type: 'inference', minReplicas: 5, maxReplicas: 3 }, 'minReplicas', 'must be <= maxReplicas (3)'],
    [{ type: 'inference', replicas: 1, minReplicas: 2 }, 'minReplicas', 'must be <= replicas (1)'],
    [{ type: 'distributed', replicas: 0 }, 'replicas', 'must be >= 1'],
  ] as const)('refuses %j naming %s', (extra, field, why) => {
    const e = failure(spec(extra));
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.field).toBe(field);
    expect(e.message).toContain(why);
  });

  it('accepts replicas equal to 1 spelled out on a non-elastic type', () => {
    expect(value(spec({ type: 'workspace', replicas: 1, minReplicas: 1, maxReplicas: 1 })).replicas).toBe(1);
  });

  it('accepts minReplicas <= replicas <= maxReplicas on elastic types', () => {
    expect(value(spec({ type: 'distributed', replicas: 4, minReplicas: 2, maxReplicas: 8 }))).toMatchObject({
      replicas: 4,
      minReplicas: 2,
      maxReplicas: 8,
    });
  });
});

describe('normalised output', () => {
  it('does not share arrays or objects with the input', () => {
    const input = { ...base, type: 'training', env: { A: '1' }, nodePools: ['p'] };
    const s = value(parseWorkloadSpec(input));
    s.command.push('x');
    s.env.B = '2';
    s.nodePools.push('q');
    expect(input.command).toEqual(['python', 'train.py']);
    expect(input.env).toEqual({ A: '1' });
    expect(input.nodePools).toEqual(['p']);
  });
});
