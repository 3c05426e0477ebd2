/** Policies on images, users and host paths: defaults, restrictions, inheritance and their messages. */
import { describe, expect, it } from 'vitest';
import type { TesseraError } from '../../common/errors.ts';
import {
  applyPolicy,
  checkContainerPolicy,
  checkTightens,
  effectivePolicy,
  type Policy,
} from '../../common/policy.ts';
import { parsePolicy } from '../../common/policy-parse.ts';
import { parseWorkloadSpec, type WorkloadSpec } from '../../common/workload.ts';
import { failure, value } from '../result.ts';

const at = (scope: string, policy: Partial<Policy>) => ({
  scope,
  policy: { defaults: {}, rules: {}, ...policy },
});

const input = (extra: Record<string, unknown> = {}) => ({
  name: 'resnet',
  project: 'vision',
  type: 'training',
  command: ['python', 'train.py'],
  ...extra,
});

/** What a submission becomes under the chain: defaults, rules, the validator, then the container rules. */
function submit(chain: ReturnType<typeof at>[], extra: Record<string, unknown> = {}) {
  const [c, d, p] = chain;
  const eff = effectivePolicy(c, d, p);
  const filled = applyPolicy(input(extra), eff);
  if (!filled.ok) return filled;
  const spec = parseWorkloadSpec(filled.value);
  if (!spec.ok) return spec;
  const bad = checkContainerPolicy(spec.value, eff.container, spec.value);
  return bad === undefined ? spec : { ok: false as const, error: bad };
}

const accepted = (chain: ReturnType<typeof at>[], extra: Record<string, unknown> = {}): WorkloadSpec =>
  value(submit(chain, extra));
const refused = (chain: ReturnType<typeof at>[], extra: Record<string, unknown> = {}): TesseraError =>
  failure(submit(chain, extra));

describe('policy defaults for image fields', () => {
  const chain = [
    at('cluster', { defaults: { image: 'nvcr.io/nvidia/pytorch:24.05-py3', imagePullPolicy: 'Always' } }),
  ];

  it('fills image and pull policy where the user set none', () => {
    expect(accepted(chain)).toMatchObject({
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      imagePullPolicy: 'Always',
    });
  });

  it("keeps the user's own image and pull policy", () => {
    expect(
      accepted(chain, { image: 'nvcr.io/nvidia/tensorflow:24.05', imagePullPolicy: 'Never' }),
    ).toMatchObject({
      image: 'nvcr.io/nvidia/tensorflow:24.05',
      imagePullPolicy: 'Never',
    });
  });

  it('gives a pull policy or secret default only to a workload that ends up with an image', () => {
    const pullOnly = [at('cluster', { defaults: { imagePullPolicy: 'Always', imagePullSecret: 'ngc' } })];
    const s = accepted(pullOnly);
    expect(s).not.toHaveProperty('imagePullPolicy');
    expect(s).not.toHaveProperty('imagePullSecret');
    expect(accepted(pullOnly, { image: 'nvcr.io/x' })).toMatchObject({
      imagePullPolicy: 'Always',
      imagePullSecret: 'ngc',
    });
  });

  it('restricts the pull policy with options, naming rule and scope', () => {
    const e = refused([at('department:research', { rules: { imagePullPolicy: { options: ['Always'] } } })], {
      image: 'nvcr.io/x',
      imagePullPolicy: 'Never',
    });
    expect(e.code).toBe('TESSERA_E_POLICY_VIOLATION');
    expect(e.message).toBe(
      'imagePullPolicy: "Never" is not one of the allowed options (rule options ["Always"] set by policy department:research)',
    );
  });

  it('forces a user with a default and canEdit false', () => {
    const forced = [
      at('cluster', { defaults: { runAsUser: 1000 }, rules: { runAsUser: { canEdit: false } } }),
    ];
    expect(accepted(forced).runAsUser).toBe(1000);
    expect(refused(forced, { runAsUser: 0 }).message).toMatch(
      /^runAsUser: may not be set to anything but the default 1000, got 0 \(rule canEdit false set by policy cluster\)/,
    );
  });
});

describe('requireImage', () => {
  const chain = [at('cluster', { container: { requireImage: true } })];

  it('refuses a workload without an image, naming the rule and the scope', () => {
    const e = refused(chain);
    expect(e).toMatchObject({ code: 'TESSERA_E_POLICY_VIOLATION', field: 'image' });
    expect(e.message).toMatch(
      /^image: a training workload in project vision must run in a container image; set image/,
    );
    expect(e.message).toMatch(/\(rule requireImage set by policy cluster\)$/);
  });

  it('passes one with an image, or with a default image', () => {
    expect(accepted(chain, { image: 'ubuntu' }).image).toBe('ubuntu');
    const withDefault = [
      at('cluster', { defaults: { image: 'nvcr.io/x' }, container: { requireImage: true } }),
    ];
    expect(accepted(withDefault).image).toBe('nvcr.io/x');
  });
});

describe('allowedImagePrefixes', () => {
  const chain = [
    at('cluster', { container: { allowedImagePrefixes: ['nvcr.io/nvidia', 'registry.example.com'] } }),
  ];

  it('passes images under a prefix and workloads without an image', () => {
    expect(accepted(chain, { image: 'nvcr.io/nvidia/pytorch:24.05-py3' }).image).toBeDefined();
    expect(
      accepted(chain, { image: 'registry.example.com/team/app@sha256:'.concat('0'.repeat(64)) }),
    ).toBeDefined();
    expect(accepted(chain).image).toBeUndefined();
  });

  it('refuses an image outside every prefix, listing them', () => {
    const e = refused(chain, { image: 'nvcr.io/nvidia-evil/miner:1' });
    expect(e.field).toBe('image');
    expect(e.message).toBe(
      'image: "nvcr.io/nvidia-evil/miner:1" is not under an allowed prefix ["nvcr.io/nvidia","registry.example.com"] (rule allowedImagePrefixes set by policy cluster)',
    );
  });

  it('refuses a short name, showing how to write it in full', () => {
    expect(refused(chain, { image: 'ubuntu:22.04' }).message).toMatch(
      /"ubuntu:22.04" names no registry.*e\.g\. docker\.io\/library\/ubuntu:22\.04/,
    );
  });

  it('narrows down the chain: an image must pass every scope', () => {
    const narrowed = [
      ...chain,
      at('project:vision', { container: { allowedImagePrefixes: ['nvcr.io/nvidia/pytorch'] } }),
    ];
    const eff = effectivePolicy(narrowed[0], narrowed[1], undefined);
    expect(eff.container.allowedImagePrefixes).toEqual({
      values: ['nvcr.io/nvidia/pytorch'],
      scope: 'project:vision',
    });
    expect(refused(narrowed, { image: 'nvcr.io/nvidia/tensorflow:1' }).message).toMatch(
      /set by policy project:vision/,
    );
  });
});

describe('runAsNonRoot', () => {
  const chain = [at('department:research', { container: { runAsNonRoot: true } })];

  it('refuses runAsUser 0', () => {
    expect(refused(chain, { runAsUser: 0 }).message).toBe(
      'runAsUser: 0 (root) is not allowed; set a non-zero user id (rule runAsNonRoot set by policy department:research)',
    );
  });

  it('refuses an unset user, image or not, since the default user may be root', () => {
    const e = refused(chain, { image: 'nvcr.io/x' });
    expect(e.field).toBe('runAsUser');
    expect(e.message).toMatch(
      /^runAsUser: must be set to a non-zero user id.*ask an admin for a runAsUser default/,
    );
    expect(refused(chain).field).toBe('runAsUser');
  });

  it('passes a non-zero user, given or defaulted', () => {
    expect(accepted(chain, { runAsUser: 1000, runAsGroup: 0 }).runAsUser).toBe(1000);
    const defaulted = [
      at('department:research', { defaults: { runAsUser: 65534 }, container: { runAsNonRoot: true } }),
    ];
    expect(accepted(defaulted).runAsUser).toBe(65534);
  });
});

describe('allowedHostPaths', () => {
  const mounts = (...hostPaths: string[]) => ({ mounts: hostPaths.map((hostPath) => ({ hostPath })) });

  it('refuses every mount when no policy allows host paths, saying an admin must allow it', () => {
    const e = refused([], mounts('/datasets'));
    expect(e).toMatchObject({ code: 'TESSERA_E_POLICY_VIOLATION', field: 'mounts.0.hostPath' });
    expect(e.message).toBe(
      'mounts.0.hostPath: "/datasets" is not allowed: no policy for training workloads allows host paths; an admin must allow it in a cluster policy\'s container.allowedHostPaths (tessera policy set cluster training -f policy.yaml)',
    );
  });

  it('passes paths at or under an allowed one, component by component', () => {
    const chain = [at('cluster', { container: { allowedHostPaths: ['/datasets', '/scratch'] } })];
    expect(accepted(chain, mounts('/datasets', '/datasets/imagenet', '/scratch/u1')).mounts).toHaveLength(3);
    const e = refused(chain, mounts('/datasets/x', '/datasets-private'));
    expect(e.field).toBe('mounts.1.hostPath');
    expect(e.message).toBe(
      'mounts.1.hostPath: "/datasets-private" is not under an allowed host path ["/datasets","/scratch"]; an admin must allow it (rule allowedHostPaths set by policy cluster)',
    );
  });

  it('grants host paths only at the cluster: a project list alone allows nothing, below it narrows', () => {
    const alone = [at('project:vision', { container: { allowedHostPaths: ['/'] } })];
    expect(refused(alone, mounts('/etc')).message).toMatch(
      /no policy for training workloads allows host paths/,
    );
    const narrowed = [
      at('cluster', { container: { allowedHostPaths: ['/data'] } }),
      at('project:vision', { container: { allowedHostPaths: ['/data/vision', '/etc'] } }),
    ];
    const eff = effectivePolicy(narrowed[0], undefined, narrowed[1]);
    expect(eff.container.allowedHostPaths).toEqual({ values: ['/data/vision'], scope: 'project:vision' });
    expect(refused(narrowed, mounts('/data/nlp')).message).toMatch(/set by policy project:vision/);
  });
});

describe('writing container policies', () => {
  it('parses and normalises the container block, refusing bad prefixes and paths', () => {
    const p = value(
      parsePolicy({
        container: { allowedImagePrefixes: ['nvcr.io/nvidia/'], allowedHostPaths: ['/data//x/'] },
      }),
    );
    expect(p.container).toEqual({ allowedImagePrefixes: ['nvcr.io/nvidia'], allowedHostPaths: ['/data/x'] });
    const prefix = failure(parsePolicy({ container: { allowedImagePrefixes: ['pytorch'] } }));
    expect(prefix).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field: 'container.allowedImagePrefixes' });
    expect(prefix.message).toMatch(/must start with a registry host/);
    expect(failure(parsePolicy({ container: { allowedHostPaths: ['/data/../etc'] } })).message).toMatch(
      /^container\.allowedHostPaths: .*'\.\.' component/,
    );
    expect(failure(parsePolicy({ container: { runAsRoot: true } })).message).toMatch(
      /container: \{requireImage/,
    );
  });

  it('accepts the new fields as defaults', () => {
    expect(
      value(parsePolicy({ defaults: { image: 'nvcr.io/x', runAsUser: 1000, workingDir: '/w' } })).defaults,
    ).toEqual({
      image: 'nvcr.io/x',
      runAsUser: 1000,
      workingDir: '/w',
    });
  });

  it('refuses a lower scope loosening a container rule, naming the scope that set it', () => {
    const parent = effectivePolicy(
      at('cluster', {
        container: {
          requireImage: true,
          runAsNonRoot: true,
          allowedImagePrefixes: ['nvcr.io'],
          allowedHostPaths: ['/data'],
        },
      }),
      undefined,
      undefined,
    );
    const loosen = (container: Policy['container']) =>
      failure(checkTightens(parent, { defaults: {}, rules: {}, container }, 'project:vision')).message;
    expect(loosen({ requireImage: false })).toMatch(
      /container\.requireImage false would loosen .* set by cluster/,
    );
    expect(loosen({ runAsNonRoot: false })).toMatch(/runAsNonRoot false/);
    expect(loosen({ allowedImagePrefixes: ['ghcr.io'] })).toMatch(
      /adds "ghcr.io" \(not under \["nvcr.io"\]\)/,
    );
    expect(loosen({ allowedHostPaths: ['/data', '/home'] })).toMatch(/adds "\/home"/);
    expect(
      checkTightens(
        parent,
        { defaults: {}, rules: {}, container: { allowedHostPaths: ['/data/x'] } },
        'project:vision',
      ).ok,
    ).toBe(true);
  });

  it('refuses host paths below the cluster when the cluster grants none', () => {
    const none = effectivePolicy(undefined, undefined, undefined);
    const e = failure(
      checkTightens(
        none,
        { defaults: {}, rules: {}, container: { allowedHostPaths: ['/data'] } },
        'department:research',
      ),
    );
    expect(e.message).toMatch(/grants host paths no cluster policy granted/);
    expect(
      checkTightens(none, { defaults: {}, rules: {}, container: { allowedHostPaths: ['/data'] } }, 'cluster')
        .ok,
    ).toBe(true);
  });

  it('refuses a policy whose own defaults break the container rules it meets', () => {
    const parent = effectivePolicy(
      at('cluster', { container: { runAsNonRoot: true, allowedImagePrefixes: ['nvcr.io'] } }),
      undefined,
      undefined,
    );
    const bad = (defaults: Policy['defaults']) =>
      failure(checkTightens(parent, { defaults, rules: {} }, 'project:vision')).message;
    expect(bad({ runAsUser: 0 })).toMatch(
      /^policy project:vision: defaults: runAsUser: 0 \(root\) is not allowed/,
    );
    expect(bad({ image: 'ghcr.io/x' })).toMatch(
      /defaults: image: "ghcr.io\/x" is not under an allowed prefix/,
    );
    expect(checkTightens(parent, { defaults: { image: 'nvcr.io/x' }, rules: {} }, 'project:vision').ok).toBe(
      true,
    );
  });
});
