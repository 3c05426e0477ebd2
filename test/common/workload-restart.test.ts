/** The spec's restartPolicy and backoffLimit: defaults, accepted values and the messages for bad ones. */
import { describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../../common/workload.ts';
import { MAX_BACKOFF_LIMIT, RESTART_DEFAULTS } from '../../common/workload-restart.ts';
import { failure, value } from '../result.ts';

const base = { name: 'ring', project: 'nlp', type: 'distributed', command: ['node', 'ring.mjs'] };

describe('restartPolicy and backoffLimit', () => {
  it('default to Never with a limit of 6, as a Kubernetes Job', () => {
    expect(value(parseWorkloadSpec(base))).toMatchObject({ restartPolicy: 'Never', backoffLimit: 6 });
    expect(RESTART_DEFAULTS).toEqual({ restartPolicy: 'Never', backoffLimit: 6 });
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
});
