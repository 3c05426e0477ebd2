/** The spec's restartPolicy and backoffLimit: defaults, accepted values and the messages for bad ones. */
import { describe, expect, it } from 'vitest';
import { applyPolicy, effectivePolicy } from '../../common/policy.ts';
import { parsePolicy } from '../../common/policy-parse.ts';
import { parseWorkloadSpec } from '../../common/workload.ts';
import { MAX_BACKOFF_LIMIT, RESTART_DEFAULTS } from '../../common/workload-restart.ts';
import { failure, value } from '../result.ts';

const base = { name: 'ring', project: 'nlp', type: 'distributed', command: ['node', 'ring.mjs'] };

describe('restartPolicy and backoffLimit', () => {
  it('default to Never with a limit of 6, as a Kubernetes Job', () => {
    expect(value(parseWorkloadSpec(base))).toMatchObject({ restartPolicy: 'Never', backoffLimit: 6 });
    expect(RESTART_DEFAULTS).toEqual({ restartPolicy: 'Never', backoffLimit: 6 });
  });

  it('default to OnFailure for inference, whose replicas are replaced when they die', () => {
    expect(value(parseWorkloadSpec({ ...base, type: 'inference' }))).toMatchObject({
      restartPolicy: 'OnFailure',
      backoffLimit: 6,
    });
    expect(
      value(parseWorkloadSpec({ ...base, type: 'inference', restartPolicy: 'Never' })).restartPolicy,
    ).toBe('Never');
  });

  it('accept OnFailure and any limit from 0 to the maximum', () => {
    for (const backoffLimit of [0, 1, MAX_BACKOFF_LIMIT])
      expect(value(parseWorkloadSpec({ ...base, restartPolicy: 'OnFailure', backoffLimit }))).toMatchObject({
        restartPolicy: 'OnFailure',
        backoffLimit,
      });
  });

  it('refuse an unknown policy, naming the field and the accepted values', () => {
    const e = failure(parseWorkloadSpec({ ...base, restartPolicy: 'Always' }));
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.message).toContain('restartPolicy');
    expect(e.message).toContain('Never, OnFailure');
  });

  it('refuse a limit that is negative, fractional or over the maximum, naming the range', () => {
    for (const backoffLimit of [-1, 1.5, MAX_BACKOFF_LIMIT + 1, '3']) {
      const e = failure(parseWorkloadSpec({ ...base, backoffLimit }));
      expect(e.message).toContain('backoffLimit');
      expect(e.message).toContain(`0 to ${MAX_BACKOFF_LIMIT}`);
    }
  });

  it('a policy may default restartPolicy and cap backoffLimit, like any other field', () => {
    const policy = value(
      parsePolicy({ defaults: { restartPolicy: 'OnFailure' }, rules: { backoffLimit: { max: 10 } } }),
    );
    const eff = effectivePolicy({ scope: 'cluster', policy }, undefined, undefined);
    expect(value(applyPolicy({ ...base, backoffLimit: 3 }, eff))).toMatchObject({
      restartPolicy: 'OnFailure',
      backoffLimit: 3,
    });
    expect(failure(applyPolicy({ ...base, backoffLimit: 20 }, eff)).message).toContain(
      'backoffLimit: 20 is above the maximum (rule max 10 set by policy cluster)',
    );
  });
});
