/** The runai CLI v2 flag names of `tessera submit`: folding, conflicts, preemptibility; then the typed verbs live. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWorkload } from '../../allocator/store/workloads.ts';
import { flagFields, type RawSubmitFlags } from '../../cli/commands/submit.ts';
import {
  applyPreemptibility,
  foldRunaiFlags,
  priorityClassFor,
  type RawRunaiFlags,
} from '../../cli/commands/submit-runai.ts';
import { CliError } from '../../cli/errors.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

/** The spec fields runai flags give, through the same path tessera flags take. */
const fields = (flags: RawSubmitFlags & RawRunaiFlags) => flagFields(foldRunaiFlags(flags).flags);

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return (e as CliError).message;
  }
  throw new Error('expected a usage error');
}

describe('runai flag names', () => {
  it('map to the tessera fields of the same meaning', () => {
    expect(
      fields({
        gpuDevicesRequest: '2',
        cpuCoreRequest: '4',
        cpuMemoryRequest: '16G',
        nodePools: ['a100', 'default'],
        environment: ['A=1', 'B=x=y'],
        env: ['C=3'],
        runAsUid: '1000',
        runAsGid: '100',
        imagePullPolicy: 'Always',
        image: 'ubuntu',
      }),
    ).toEqual({
      resources: { gpuDevices: 2, cpu: '4', memory: '16G' },
      nodePools: ['a100', 'default'],
      env: { C: '3', A: '1', B: 'x=y' },
      runAsUser: 1000,
      runAsGroup: 100,
      imagePullPolicy: 'Always',
      image: 'ubuntu',
    });
    expect(fields({ gpuPortionRequest: '0.5', gpuPortionLimit: '0.75', gpuRequestType: 'portion' })).toEqual({
      resources: { gpuFraction: '0.5', gpuFractionLimit: '0.75' },
    });
    expect(fields({ gpuMemoryRequest: '20G', gpuMemoryLimit: '40G', gpuRequestType: 'memory' })).toEqual({
      resources: { gpuMemory: '20G', gpuMemoryLimit: '40G' },
    });
  });

  it("read runai's one device with a portion as that share of one GPU", () => {
    expect(fields({ gpuDevicesRequest: '1', gpuPortionRequest: '0.25' })).toEqual({
      resources: { gpuFraction: '0.25' },
    });
  });

  it('refuse several shared GPUs, a flag under both names and half-given request types, saying what to keep', () => {
    expect(usage(() => fields({ gpuDevicesRequest: '2', gpuPortionRequest: '0.5' }))).toContain(
      'a fractional pod gets part of one GPU',
    );
    expect(usage(() => fields({ gpu: '1', gpuPortionRequest: '0.5' }))).toContain('--gpu with a GPU portion');
    expect(usage(() => fields({ gpuPortionRequest: '0.5', gpuMemoryRequest: '20G' }))).toContain('not both');
    expect(usage(() => fields({ gpuDevicesRequest: '1', gpu: '1' }))).toBe(
      "--gpu-devices-request is runai's name for --gpu: give one of them",
    );
    expect(usage(() => fields({ nodePools: ['a'], nodePool: ['b'] }))).toContain('--node-pool');
    expect(usage(() => fields({ gpuRequestType: 'portion', gpuMemoryRequest: '2G' }))).toContain(
      '--gpu-request-type portion needs --gpu-portion-request',
    );
    expect(usage(() => fields({ environment: ['my-asset'] }))).toContain('Tessera has no environment assets');
  });
});

describe('--preemptible / --non-preemptible', () => {
  it("pick the type's default class when it fits, else build-preemptible or build", () => {
    expect(priorityClassFor('training', undefined, 'preemptible')).toBe('train');
    expect(priorityClassFor('workspace', undefined, 'preemptible')).toBe('build-preemptible');
    expect(priorityClassFor('inference', undefined, 'non-preemptible')).toBe('inference');
    expect(priorityClassFor('training', undefined, 'non-preemptible')).toBe('build');
    expect(priorityClassFor('training', 'build-preemptible', 'preemptible')).toBe('build-preemptible');
  });

  it('refuse a priority class that says the opposite', () => {
    expect(usage(() => priorityClassFor('training', 'inference', 'preemptible'))).toContain(
      '--priority-class inference is non-preemptible, which --preemptible contradicts',
    );
  });

  it('apply to a built spec once its type is known, and leave a spec without the flag alone', () => {
    const spec = { type: 'workspace', name: 'w' };
    expect(applyPreemptibility(spec, 'preemptible')).toEqual({ ...spec, priorityClass: 'build-preemptible' });
    expect(applyPreemptibility(spec, undefined)).toBe(spec);
  });
});

describe('tessera <type> verbs against a live API', () => {
  let api: LiveApi;
  beforeAll(async () => {
    api = await startLiveApi({ prefix: 'tessera-verbs-' });
    const r = await api.tessera('project', 'create', 'vision', '--gpu', '4');
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => api.close());

  it('submit with runai flags, list -A, describe, suspend, resume and delete a training', async () => {
    const sub = await api.tessera(
      'training',
      'submit',
      'resnet',
      '-p',
      'vision',
      '--gpu-portion-request',
      '0.5',
      '--node-pools',
      'default',
      '--non-preemptible',
      '--environment',
      'EPOCHS=3',
      '-o',
      'json',
      '--',
      'python',
      'train.py',
    );
    expect(sub.code, sub.stderr).toBe(0);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    const stored = getWorkload(api.db, id);
    expect(stored?.spec).toMatchObject({
      type: 'training',
      priorityClass: 'build',
      preemptible: false,
      env: { EPOCHS: '3' },
      nodePools: ['default'],
    });
    expect(stored?.spec.resources.gpu).toMatchObject({ kind: 'fraction', milli: 500 });
    const inf = await api.tessera('inference', 'submit', 'chat', '-p', 'vision', '-g', '1', '--', 'serve');
    expect(inf.code, inf.stderr).toBe(0);

    const list = await api.tessera('training', 'list', '-A');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('resnet');
    expect(list.stdout).not.toContain('chat');
    const both = await api.tessera('training', 'list', '-A', '-p', 'vision');
    expect(both.code).not.toBe(0);

    const d = await api.tessera('training', 'describe', 'resnet', '-p', 'vision');
    expect(d.stdout).toMatch(/Priority:\s+build \(100, non-preemptible\)/);
    const wrongType = await api.tessera('inference', 'describe', 'resnet', '-p', 'vision');
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr).toContain('no inference workload named resnet');

    expect((await api.tessera('training', 'suspend', 'resnet', '-p', 'vision')).stdout).toContain('stopped');
    expect(getWorkload(api.db, id)?.phase).toBe('Stopped');
    expect((await api.tessera('training', 'resume', 'resnet', '-p', 'vision')).stdout).toContain(
      'queued again',
    );
    expect(getWorkload(api.db, id)?.phase).toBe('Pending');
    const del = await api.tessera('training', 'delete', 'resnet', '-p', 'vision');
    expect(del.code, del.stderr).toBe(0);
  });

  it('workspace keeps open beside the verbs', async () => {
    const help = await api.run('workspace', '--help');
    for (const verb of ['open', 'submit', 'list', 'describe', 'suspend', 'resume', 'delete', 'logs'])
      expect(help.stdout).toContain(verb);
  });
});
