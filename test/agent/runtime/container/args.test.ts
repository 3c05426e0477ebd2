import { describe, expect, it } from 'vitest';
import type { PodSpec } from '../../../../agent/runner/types.ts';
import {
  authFileText,
  containerName,
  envFileText,
  formatCpus,
  pullArgs,
  type RunArgsInput,
  registryOf,
  runArgs,
} from '../../../../agent/runtime/container/args.ts';

const spec: PodSpec = {
  podId: 'pod-1',
  workload: 'w',
  project: 'p',
  epoch: 3,
  command: ['python', 'train.py', '--lr', '0.1 0.2'],
  env: { SECRET: 'hunter2' },
  grants: [],
  priority: 0,
  graceSeconds: 5,
  image: 'nvcr.io/nvidia/pytorch:24.01',
};

function input(over: Partial<PodSpec> = {}, extra: Partial<RunArgsInput> = {}): RunArgsInput {
  return {
    spec: { ...spec, ...over },
    image: 'nvcr.io/nvidia/pytorch:24.01',
    name: containerName('pod-1', 3),
    nodeName: 'node-a',
    cgroupParent: '/tessera/node-a',
    envFile: '/data/pods/pod-1/.env',
    cidFile: '/data/pods/pod-1/.cid',
    pidFile: '/data/pods/pod-1/.pid',
    ulimits: [
      { name: 'nofile', soft: 20000, hard: 20000 },
      { name: 'nproc', soft: 4096, hard: 4096 },
    ],
    initPath: null,
    devices: [],
    extraMounts: [],
    ...extra,
  };
}

function args(over: Partial<PodSpec> = {}, extra: Partial<RunArgsInput> = {}): string[] {
  const r = runArgs(input(over, extra));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** The value after `flag`, for each occurrence. */
function values(a: string[], flag: string): string[] {
  return a.flatMap((x, i) => (x === flag ? [a[i + 1] ?? ''] : []));
}

describe('runArgs', () => {
  it('runs detached with host network, passthrough logs, labels, name, cidfile and no implicit pull', () => {
    const a = args();
    expect(a.slice(0, 6)).toEqual(['--log-level', 'error', 'run', '-d', '--pull', 'never']);
    expect(values(a, '--name')).toEqual(['tessera-pod-1-e3']);
    expect(values(a, '--cidfile')).toEqual(['/data/pods/pod-1/.cid']);
    expect(values(a, '--pidfile')).toEqual(['/data/pods/pod-1/.pid']);
    expect(values(a, '--label')).toEqual(['tessera.pod=pod-1', 'tessera.epoch=3', 'tessera.node=node-a']);
    expect(values(a, '--network')).toEqual(['host']);
    expect(values(a, '--log-driver')).toEqual(['passthrough']);
    expect(values(a, '--cgroup-parent')).toEqual(['/tessera/node-a']);
    expect(values(a, '--ulimit')).toEqual(['nofile=20000:20000', 'nproc=4096:4096']);
  });

  it('never puts the environment on argv: only the env file path', () => {
    const a = args();
    expect(values(a, '--env-file')).toEqual(['/data/pods/pod-1/.env']);
    expect(a).not.toContain('-e');
    expect(a).not.toContain('--env');
    expect(a.join(' ')).not.toContain('hunter2');
  });

  it('replaces ENTRYPOINT and CMD with the command as one JSON entrypoint, image last', () => {
    const a = args();
    expect(values(a, '--entrypoint')).toEqual(['["python","train.py","--lr","0.1 0.2"]']);
    expect(a.at(-1)).toBe('nvcr.io/nvidia/pytorch:24.01');
    expect(values(args({ command: [] }), '--entrypoint')).toEqual([]);
  });

  it('maps memory (no swap), CPU, user, workdir, mounts, devices and the init', () => {
    const a = args(
      {
        memoryMiB: 512,
        cpuMillis: 1500,
        runAsUser: 1000,
        runAsGroup: 100,
        workingDir: '/work',
        mounts: [{ hostPath: '/data/ds', containerPath: '/ds', readOnly: true }],
      },
      {
        devices: ['nvidia.com/gpu=GPU-1'],
        extraMounts: [{ hostPath: '/sim', containerPath: '/sim', readOnly: false }],
        initPath: '/usr/bin/catatonit',
      },
    );
    expect(values(a, '--memory')).toEqual(['512m']);
    expect(values(a, '--memory-swap')).toEqual(['512m']);
    expect(values(a, '--cpus')).toEqual(['1.5']);
    expect(values(a, '--user')).toEqual(['1000:100']);
    expect(values(a, '--workdir')).toEqual(['/work']);
    expect(values(a, '-v')).toEqual(['/data/ds:/ds:ro', '/sim:/sim:rw']);
    expect(values(a, '--device')).toEqual(['nvidia.com/gpu=GPU-1']);
    expect(values(a, '--init-path')).toEqual(['/usr/bin/catatonit']);
    expect(a).toContain('--init');
  });

  it('leaves out limits that are absent or 0, and the init when there is none', () => {
    const a = args({ memoryMiB: 0, cpuMillis: 0 });
    for (const f of [
      '--memory',
      '--memory-swap',
      '--cpus',
      '--user',
      '--workdir',
      '--init',
      '-v',
      '--device',
    ]) {
      expect(a).not.toContain(f);
    }
    expect(values(args({ runAsUser: 0 }), '--user')).toEqual(['0']);
  });

  it('refuses what podman would misread: a relative workdir, a path with ":", a group without a user', () => {
    const bad = (over: Partial<PodSpec>) => {
      const r = runArgs(input(over));
      return r.ok ? null : `${r.error.field}: ${r.error.message}`;
    };
    expect(bad({ workingDir: 'rel' })).toMatch(/^workingDir: .*absolute/);
    expect(bad({ mounts: [{ hostPath: '/a:b', containerPath: '/c', readOnly: false }] })).toMatch(
      /^mounts: /,
    );
    expect(bad({ mounts: [{ hostPath: '/a', containerPath: 'c', readOnly: false }] })).toMatch(/^mounts: /);
    expect(bad({ runAsGroup: 5 })).toMatch(/^runAsGroup: /);
  });
});

describe('envFileText', () => {
  it('writes NAME=value lines, values kept verbatim (spaces, =, quotes)', () => {
    const r = envFileText({ A: '1', B: 'x = "y" z', EMPTY: '' });
    expect(r).toEqual({ ok: true, value: 'A=1\nB=x = "y" z\nEMPTY=\n' });
  });
  it('refuses a newline in a value and an invalid name, naming the variable', () => {
    const nl = envFileText({ MULTI: 'a\nb' });
    expect(!nl.ok && nl.error.message).toMatch(/MULTI holds a newline/);
    const name = envFileText({ 'A B': '1' });
    expect(!name.ok && name.error.message).toMatch(/"A B" is not valid/);
  });
});

describe('pull and login', () => {
  it('pull args carry the authfile path and tls-verify for insecure registries, never the password', () => {
    expect(pullArgs('r:5000/a:1', true, '/pod/.auth.json')).toEqual([
      'pull',
      '--quiet',
      '--tls-verify=false',
      '--authfile',
      '/pod/.auth.json',
      'r:5000/a:1',
    ]);
    expect(pullArgs('a:1', false, null)).toEqual(['pull', '--quiet', 'a:1']);
  });
  it('the authfile is podman auth.json with base64 user:password', () => {
    expect(JSON.parse(authFileText('r:5000', 'u', 'p:w'))).toEqual({
      auths: { 'r:5000': { auth: Buffer.from('u:p:w').toString('base64') } },
    });
  });
  it('registryOf finds the registry host of a reference', () => {
    expect(registryOf('nvcr.io/nvidia/pytorch:24.01')).toBe('nvcr.io');
    expect(registryOf('localhost:5000/x:1')).toBe('localhost:5000');
    expect(registryOf('localhost/x:1')).toBe('localhost');
    expect(registryOf('library/busybox')).toBe('docker.io');
    expect(registryOf('busybox')).toBe('docker.io');
  });
  it('formatCpus writes milli-cores as cores', () => {
    expect(formatCpus(250)).toBe('0.25');
    expect(formatCpus(2000)).toBe('2');
  });
});
