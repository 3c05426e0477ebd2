import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPolicy,
  checkTightens,
  type EffectivePolicy,
  effectivePolicy,
  type FieldRule,
  type Policy,
} from '../../common/policy.ts';
import { parsePolicy } from '../../common/policy-parse.ts';
import { parseWorkloadSpec } from '../../common/workload.ts';

const at = (scope: string, policy: Partial<Policy>) => ({
  scope,
  policy: { defaults: {}, rules: {}, ...policy },
});

const spec = (extra: Record<string, unknown> = {}) => ({
  name: 'resnet',
  project: 'vision',
  type: 'training',
  command: ['python', 'train.py'],
  ...extra,
});

function mustFail(r: { ok: boolean }): { message: string; field?: string; code: string; context?: unknown } {
  if (r.ok) throw new Error('expected a violation');
  return (r as unknown as { error: { message: string; field?: string; code: string } }).error;
}

describe('effective policy: inheritance cluster -> department -> project', () => {
  it('takes the tightest bound of the chain and remembers the scope that set it', () => {
    const eff = effectivePolicy(
      at('cluster', { rules: { 'resources.gpuFraction': { min: 0.1, max: 0.8 } } }),
      at('department:research', { rules: { 'resources.gpuFraction': { max: '500m' } } }),
      at('project:vision', { rules: { 'resources.gpuFraction': { min: 0.25 } } }),
    );
    expect(eff.rules['resources.gpuFraction']?.min).toEqual({
      value: 250,
      raw: 0.25,
      scope: 'project:vision',
    });
    expect(eff.rules['resources.gpuFraction']?.max).toEqual({
      value: 500,
      raw: '500m',
      scope: 'department:research',
    });
  });

  it('intersects options and keeps required and canEdit:false sticky', () => {
    const eff = effectivePolicy(
      at('cluster', { rules: { nodePools: { options: ['default', 'a100', 'h100'], required: true } } }),
      at('department:research', { rules: { nodePools: { options: ['a100', 'h100'], canEdit: false } } }),
      at('project:vision', { rules: { nodePools: { options: ['h100'] } } }),
    );
    const r = eff.rules.nodePools;
    expect(r?.options?.values).toEqual(['h100']);
    expect(r?.required).toBe('cluster');
    expect(r?.locked).toBe('department:research');
  });

  it('lets a lower default replace a higher one of the same exclusive group', () => {
    const eff = effectivePolicy(
      at('cluster', { defaults: { 'resources.gpuFraction': 0.5 } }),
      undefined,
      at('project:vision', { defaults: { 'resources.gpuMemory': '10GiB' } }),
    );
    expect(Object.keys(eff.defaults)).toEqual(['resources.gpuMemory']);
  });
});

describe('a policy write that would loosen is refused', () => {
  const parent = effectivePolicy(
    at('cluster', {
      defaults: { priorityClass: 'train' },
      rules: {
        'resources.memory': { max: '32GiB' },
        priorityClass: { options: ['train', 'build'], canEdit: false },
      },
    }),
    undefined,
    undefined,
  );

  it('names the field and the scope it would loosen', () => {
    const e = mustFail(
      checkTightens(
        parent,
        { defaults: {}, rules: { 'resources.memory': { max: 65536 } } },
        'department:research',
      ),
    );
    expect(e.code).toBe('TESSERA_E_POLICY_VIOLATION');
    expect(e.field).toBe('resources.memory');
    expect(e.message).toContain('department:research');
    expect(e.message).toContain('set by cluster');
  });

  it('refuses new options, canEdit true under a lock, and a default the rules refuse', () => {
    expect(
      mustFail(
        checkTightens(
          parent,
          { defaults: {}, rules: { priorityClass: { options: ['inference'] } } },
          'project:p',
        ),
      ).message,
    ).toContain('"inference"');
    expect(
      mustFail(
        checkTightens(parent, { defaults: {}, rules: { priorityClass: { canEdit: true } } }, 'project:p'),
      ).field,
    ).toBe('priorityClass');
    expect(
      mustFail(checkTightens(parent, { defaults: { 'resources.memory': '64GiB' }, rules: {} }, 'project:p'))
        .message,
    ).toContain('resources.memory');
  });

  it('accepts a tighter policy', () => {
    const child = { defaults: {}, rules: { 'resources.memory': { max: '16GiB' } } };
    expect(checkTightens(parent, child, 'project:p').ok).toBe(true);
  });
});

describe('applyPolicy at submission', () => {
  const eff: EffectivePolicy = effectivePolicy(
    at('cluster', {
      defaults: { 'resources.gpuFraction': 0.5, 'env.TEAM': 'vision' },
      rules: { 'resources.memory': { max: '16GiB' }, 'resources.gpuFraction': { max: 0.5 } },
    }),
    undefined,
    at('project:vision', { rules: { priorityClass: { options: ['train'] } } }),
  );

  it('fills defaults for fields the user did not set, and the result validates', () => {
    const r = applyPolicy(spec(), eff);
    expect(r.ok && r.value).toMatchObject({ resources: { gpuFraction: 0.5 }, env: { TEAM: 'vision' } });
    const parsed = parseWorkloadSpec(r.ok ? r.value : undefined);
    expect(parsed.ok && parsed.value.resources.gpu).toEqual({ kind: 'fraction', milli: 500 });
  });

  it('never fills a default beside another spelling of the same field', () => {
    const r = applyPolicy(spec({ resources: { gpuDevices: 1 } }), eff);
    expect(r.ok && r.value).toMatchObject({ resources: { gpuDevices: 1 } });
    expect(r.ok && (r.value as { resources: Record<string, unknown> }).resources.gpuFraction).toBeUndefined();
  });

  it('compares quantities after normalising, in either spelling', () => {
    expect(applyPolicy(spec({ resources: { memory: '8GiB' } }), eff).ok).toBe(true);
    const e = mustFail(applyPolicy(spec({ resources: { memoryMiB: 20480 } }), eff));
    expect(e.field).toBe('resources.memory');
    expect(e.message).toMatch(/above the maximum \(rule max 16GiB set by policy cluster\)/);
  });

  it('names field, rule, limit and scope of a violation', () => {
    const e = mustFail(applyPolicy(spec({ priorityClass: 'build' }), eff));
    expect(e).toMatchObject({
      code: 'TESSERA_E_POLICY_VIOLATION',
      field: 'priorityClass',
      context: { rule: 'options', limit: '["train"]', scope: 'project:vision' },
    });
  });

  it('enforces required and canEdit false', () => {
    const locked = effectivePolicy(
      at('cluster', {
        defaults: { nodePools: ['a100'] },
        rules: { nodePools: { canEdit: false }, 'resources.cpu': { required: true } },
      }),
      undefined,
      undefined,
    );
    expect(mustFail(applyPolicy(spec(), locked)).field).toBe('resources.cpu');
    const e = mustFail(applyPolicy(spec({ nodePools: ['default'], resources: { cpu: 1 } }), locked));
    expect(e.message).toContain('canEdit false');
    expect(applyPolicy(spec({ nodePools: ['a100'], resources: { cpu: 1 } }), locked).ok).toBe(true);
  });

  it('refuses unknown fields and min above max when a policy is parsed', () => {
    expect(mustFail(parsePolicy({ rules: { gpus: { max: 1 } } })).message).toContain('not a spec field');
    expect(mustFail(parsePolicy({ rules: { 'resources.cpu': { min: 4, max: '2' } } })).message).toContain(
      'above max',
    );
    expect(mustFail(parsePolicy({ rules: { 'resources.memoryMiB': { max: 1 } } })).message).toContain(
      'resources.memory',
    );
  });
});

describe('property: the effective policy is at least as tight as every level', () => {
  const classes = ['train', 'build-preemptible', 'build', 'inference'];
  const rule: fc.Arbitrary<FieldRule> = fc.record(
    {
      min: fc.integer({ min: 1, max: 999 }).map((m) => `${m}m`),
      max: fc.integer({ min: 1, max: 999 }).map((m) => m / 1000),
      required: fc.boolean(),
      canEdit: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const options = fc.subarray(classes, { minLength: 1 });
  const level = fc.option(
    fc.record({ gpu: rule, classes: fc.option(options, { nil: undefined }) }).map(
      ({ gpu, classes: opts }): Policy => ({
        defaults: {},
        rules: {
          'resources.gpuFraction': gpu,
          ...(opts === undefined ? {} : { priorityClass: { options: opts } }),
        },
      }),
    ),
    { nil: undefined },
  );

  it('holds for any chain', () => {
    fc.assert(
      fc.property(fc.tuple(level, level, level), (chain) => {
        const scopes = ['cluster', 'department:d', 'project:p'];
        const [c, d, p] = chain.map((pol, i) =>
          pol === undefined ? undefined : { scope: scopes[i] ?? '', policy: pol },
        );
        const eff = effectivePolicy(c, d, p);
        for (const pol of chain) {
          if (pol === undefined) continue;
          const g = pol.rules['resources.gpuFraction'] ?? {};
          const e = eff.rules['resources.gpuFraction'];
          if (g.min !== undefined)
            expect(e?.min?.value).toBeGreaterThanOrEqual(Number.parseInt(String(g.min), 10));
          if (g.max !== undefined) expect(e?.max?.value).toBeLessThanOrEqual(Number(g.max) * 1000);
          if (g.required === true) expect(e?.required).toBeDefined();
          if (g.canEdit === false) expect(e?.locked).toBeDefined();
          const opts = pol.rules.priorityClass?.options;
          if (opts !== undefined)
            for (const o of eff.rules.priorityClass?.options?.values ?? []) expect(opts).toContain(o);
        }
      }),
    );
  });
});
