/** The container fields of a workload spec: image, pull policy and secret, working dir, user, mounts. */
import { describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../../common/workload.ts';
import { cleanAbsolutePath, isUnderPath } from '../../common/workload-container.ts';
import { failure, value } from '../result.ts';

const base = { name: 'resnet', project: 'vision', type: 'training', command: ['python', 'train.py'] };
const ok = (extra: Record<string, unknown>) => value(parseWorkloadSpec({ ...base, ...extra }));
const bad = (extra: Record<string, unknown>) => failure(parseWorkloadSpec({ ...base, ...extra }));

describe('image', () => {
  it('keeps the reference and defaults the pull policy to IfNotPresent', () => {
    const s = ok({ image: 'nvcr.io/nvidia/pytorch:24.05-py3' });
    expect(s.image).toBe('nvcr.io/nvidia/pytorch:24.05-py3');
    expect(s.imagePullPolicy).toBe('IfNotPresent');
    expect(ok({ image: 'ubuntu', imagePullPolicy: 'Always' }).imagePullPolicy).toBe('Always');
  });

  it('has no image, pull policy or secret when none is given', () => {
    const s = ok({});
    expect(s).not.toHaveProperty('image');
    expect(s).not.toHaveProperty('imagePullPolicy');
    expect(s).not.toHaveProperty('imagePullSecret');
    expect(s.mounts).toEqual([]);
  });

  it('refuses a malformed reference, saying what is wrong and showing an example', () => {
    const e = bad({ image: 'nvcr.io/NVIDIA/PyTorch:24.05' });
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.field).toBe('image');
    expect(e.message).toMatch(/^image: "nvcr.io\/NVIDIA\/PyTorch:24.05": path component "NVIDIA".*lowercase/);
    expect(e.message).toContain("e.g. 'nvcr.io/nvidia/pytorch:24.05-py3'");
  });

  it('refuses a pull policy outside the three, naming them', () => {
    const e = bad({ image: 'ubuntu', imagePullPolicy: 'Sometimes' });
    expect(e.field).toBe('imagePullPolicy');
    expect(e.message).toMatch(/got "Sometimes"; accepted: one of IfNotPresent, Always, Never/);
  });

  it('refuses a pull policy or secret without an image', () => {
    expect(bad({ imagePullPolicy: 'Always' }).message).toMatch(
      /^imagePullPolicy: applies only to a workload with an image; set image/,
    );
    expect(bad({ imagePullSecret: 'ngc' }).field).toBe('imagePullSecret');
  });

  it('keeps a secret name and refuses one that is not a DNS label', () => {
    expect(ok({ image: 'nvcr.io/x', imagePullSecret: 'ngc' }).imagePullSecret).toBe('ngc');
    const e = bad({ image: 'nvcr.io/x', imagePullSecret: 'NGC_key' });
    expect(e.message).toMatch(/^imagePullSecret: "NGC_key" is not a secret name; accepted: .*DNS-1123/);
  });
});

describe('workingDir, runAsUser, runAsGroup', () => {
  it('keeps an absolute working dir, cleaned', () => {
    expect(ok({ workingDir: '/workspace//src/./' }).workingDir).toBe('/workspace/src');
  });

  it.each([
    ['workspace', /not an absolute path/],
    ['/a/../etc', /'\.\.' component/],
  ])('refuses the working dir %j', (dir, message) => {
    const e = bad({ workingDir: dir });
    expect(e.field).toBe('workingDir');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/accepted: an absolute path/);
  });

  it('accepts user and group ids from 0 to 2^31-1', () => {
    expect(ok({ runAsUser: 0, runAsGroup: 0 })).toMatchObject({ runAsUser: 0, runAsGroup: 0 });
    expect(ok({ runAsUser: 2 ** 31 - 1 }).runAsUser).toBe(2 ** 31 - 1);
  });

  it.each([
    [{ runAsUser: -1 }, 'runAsUser', />= 0/],
    [{ runAsUser: 2 ** 31 }, 'runAsUser', /<= 2147483647/],
    [{ runAsGroup: 1.5 }, 'runAsGroup', /whole number/],
    [{ runAsUser: '1000' }, 'runAsUser', /expected a number, got "1000"/],
  ])('refuses %j', (extra, field, message) => {
    const e = bad(extra);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });
});

describe('mounts', () => {
  it('defaults containerPath to hostPath and readOnly to true', () => {
    expect(
      ok({
        mounts: [
          { hostPath: '/datasets/imagenet' },
          { hostPath: '/scratch/', containerPath: '/out', readOnly: false },
        ],
      }).mounts,
    ).toEqual([
      { hostPath: '/datasets/imagenet', containerPath: '/datasets/imagenet', readOnly: true },
      { hostPath: '/scratch', containerPath: '/out', readOnly: false },
    ]);
  });

  it.each([
    [[{ hostPath: 'data' }], 'mounts.0.hostPath', /not an absolute path/],
    [[{ hostPath: '/data/../etc' }], 'mounts.0.hostPath', /'\.\.' component/],
    [[{ hostPath: '/data', containerPath: '../x' }], 'mounts.0.containerPath', /not an absolute path/],
    [[{ hostPath: '/data', readOnly: 'yes' }], 'mounts.0.readOnly', /expected true or false/],
    [
      [
        { hostPath: '/a', containerPath: '/x' },
        { hostPath: '/b', containerPath: '/x/' },
      ],
      'mounts.1.containerPath',
      /already the target of mounts\.0/,
    ],
  ])('refuses %j', (mounts, field, message) => {
    const e = bad({ mounts });
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('names the accepted fields of a mount for an unknown one', () => {
    const e = bad({ mounts: [{ hostPath: '/a', mode: 'ro' }] });
    expect(e.field).toBe('mounts.0.mode');
    expect(e.message).toMatch(/unknown field; fields accepted here: hostPath, containerPath, readOnly/);
  });

  it('suggests mounts for volumes and runAsUser for user', () => {
    expect(bad({ volumes: [] }).message).toMatch(/use mounts/);
    expect(bad({ user: 'root' }).message).toMatch(/use runAsUser/);
  });

  it('caps the number of mounts at the wire limit', () => {
    const mounts = Array.from({ length: 65 }, (_, i) => ({ hostPath: `/d/${i}` }));
    expect(bad({ mounts }).message).toMatch(/^mounts: has 65 items, over the limit of 64/);
  });
});

describe('paths', () => {
  it('compares paths component by component', () => {
    expect(isUnderPath('/data/x', '/data')).toBe(true);
    expect(isUnderPath('/data', '/data')).toBe(true);
    expect(isUnderPath('/database', '/data')).toBe(false);
    expect(isUnderPath('/anything', '/')).toBe(true);
  });

  it('cleans dots and doubled slashes, keeps the root', () => {
    expect(cleanAbsolutePath('/')).toEqual({ ok: true, value: '/' });
    expect(cleanAbsolutePath('//a/./b//')).toEqual({ ok: true, value: '/a/b' });
  });
});
