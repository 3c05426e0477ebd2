import { describe, expect, it } from 'vitest';
import { buildSubmitSpec, mountOf, type RawSubmitFlags } from '../../../cli/commands/submit.ts';
import { CliError, EXIT_USAGE } from '../../../cli/errors.ts';
import { parseWorkloadSpec } from '../../../common/workload.ts';

const base: RawSubmitFlags = { project: 'vision' };

function usage(f: () => unknown): CliError {
  try {
    f();
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('submit spec from flags', () => {
  it('sends only what was set, so the allocator applies its type defaults', () => {
    expect(buildSubmitSpec('training', 'resnet', base, ['python', 'train.py'])).toEqual({
      name: 'resnet',
      project: 'vision',
      type: 'training',
      command: ['python', 'train.py'],
    });
  });

  it('passes quantities through as written and counts as numbers', () => {
    const spec = buildSubmitSpec(
      'inference',
      'chat',
      {
        ...base,
        gpuMemory: '20GiB',
        gpuMemoryLimit: '40GiB',
        cpu: '500m',
        memory: '8GiB',
        replicas: '2',
        minReplicas: '1',
        maxReplicas: '4',
        priorityClass: 'build',
        nodePool: ['a100,default', 'spare'],
        nodeType: ['dgx'],
        gpuModel: ['H100', 'A100'],
        env: ['A=1', 'URL=http://x?a=b'],
      },
      ['python', 'serve.py', '--port', '8000'],
    );
    expect(spec).toEqual({
      name: 'chat',
      project: 'vision',
      type: 'inference',
      command: ['python', 'serve.py', '--port', '8000'],
      priorityClass: 'build',
      env: { A: '1', URL: 'http://x?a=b' },
      nodePools: ['a100', 'default', 'spare'],
      nodeTypes: ['dgx'],
      gpuModels: ['H100', 'A100'],
      replicas: 2,
      minReplicas: 1,
      maxReplicas: 4,
      resources: { gpuMemory: '20GiB', gpuMemoryLimit: '40GiB', cpu: '500m', memory: '8GiB' },
    });
    // What the CLI builds is exactly what the allocator's validator accepts.
    const parsed = parseWorkloadSpec(spec);
    expect(parsed.ok && parsed.value.resources.gpu).toEqual({
      kind: 'memory',
      memoryMiB: 20480,
      limitMiB: 40960,
    });
  });

  it('takes --priority as --priority-class and refuses the two disagreeing', () => {
    expect(buildSubmitSpec('training', 'a', { ...base, priority: 'build' }, ['x']).priorityClass).toBe(
      'build',
    );
    expect(() =>
      buildSubmitSpec('training', 'a', { ...base, priority: 'build', priorityClass: 'train' }, ['x']),
    ).toThrow(/--priority and --priority-class/);
  });

  it('maps --gpu to whole GPUs and --gpu-fraction to a fraction the validator accepts', () => {
    const whole = buildSubmitSpec('training', 'a', { ...base, gpu: '2' }, ['x']);
    expect(whole.resources).toEqual({ gpuDevices: 2 });
    const half = buildSubmitSpec('training', 'a', { ...base, gpuFraction: '500m', gpuFractionLimit: '0.8' }, [
      'x',
    ]);
    expect(half.resources).toEqual({ gpuFraction: '500m', gpuFractionLimit: '0.8' });
    const parsed = parseWorkloadSpec(half);
    expect(parsed.ok && parsed.value.resources.gpu).toEqual({
      kind: 'fraction',
      milli: 500,
      limitMilli: 800,
    });
  });

  it('refuses a missing command, a non-numeric count and a bad -e with a usage error naming the flag', () => {
    expect(usage(() => buildSubmitSpec('training', 'a', base, [])).error.field).toBe('COMMAND');
    const gpu = usage(() => buildSubmitSpec('training', 'a', { ...base, gpu: '0.5' }, ['x']));
    expect(gpu.exitCode).toBe(EXIT_USAGE);
    expect(gpu.error.field).toBe('--gpu');
    expect(gpu.message).toContain('--gpu-fraction');
    expect(
      usage(() => buildSubmitSpec('distributed', 'a', { ...base, replicas: 'two' }, ['x'])).error.field,
    ).toBe('--replicas');
    expect(
      usage(() => buildSubmitSpec('training', 'a', { ...base, env: ['NOVALUE'] }, ['x'])).error.field,
    ).toBe('-e');
    expect(usage(() => buildSubmitSpec('training', 'a', { ...base, env: ['=x'] }, ['x'])).error.field).toBe(
      '-e',
    );
  });

  it('sends image, pull policy and secret, working dir, user and group, and mounts as the spec names them', () => {
    const flags: RawSubmitFlags = {
      ...base,
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      pullPolicy: 'Always',
      pullSecret: 'ngc',
      workingDir: '/workspace',
      runAsUser: '1000',
      runAsGroup: '0',
      mount: ['/datasets/imagenet:/data', '/scratch:rw', '/models:/m:ro'],
    };
    const body = buildSubmitSpec('training', 'a', flags, ['python', 'train.py']);
    expect(body).toMatchObject({
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      imagePullPolicy: 'Always',
      imagePullSecret: 'ngc',
      workingDir: '/workspace',
      runAsUser: 1000,
      runAsGroup: 0,
      mounts: [
        { hostPath: '/datasets/imagenet', containerPath: '/data' },
        { hostPath: '/scratch', readOnly: false },
        { hostPath: '/models', containerPath: '/m', readOnly: true },
      ],
    });
    const parsed = parseWorkloadSpec(body);
    expect(parsed.ok && parsed.value.mounts).toEqual([
      { hostPath: '/datasets/imagenet', containerPath: '/data', readOnly: true },
      { hostPath: '/scratch', containerPath: '/scratch', readOnly: false },
      { hostPath: '/models', containerPath: '/m', readOnly: true },
    ]);
  });

  it('reads --mount as HOST[:CONTAINER][:ro|rw] and refuses anything else naming the flag', () => {
    expect(mountOf('/d')).toEqual({ hostPath: '/d' });
    expect(mountOf('/d:ro')).toEqual({ hostPath: '/d', readOnly: true });
    for (const bad of ['', ':/x', '/a::ro', '/a:/b:/c', '/a:/b:ro:rw'])
      expect(usage(() => mountOf(bad)).error.field, bad).toBe('--mount');
    expect(usage(() => mountOf('/a:/b:/c')).message).toMatch(/HOST\[:CONTAINER\]\[:ro\|rw\]/);
  });

  it('refuses a non-numeric user or group with a usage error', () => {
    expect(
      usage(() => buildSubmitSpec('training', 'a', { ...base, runAsUser: 'root' }, ['x'])).error.field,
    ).toBe('--run-as-user');
    expect(
      usage(() => buildSubmitSpec('training', 'a', { ...base, runAsGroup: '-1' }, ['x'])).error.field,
    ).toBe('--run-as-group');
  });
});
