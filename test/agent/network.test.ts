import { describe, expect, it } from 'vitest';
import { defaultAdvertiseAddress, parsePortRange } from '../../agent/network.ts';

describe('agent network flags', () => {
  it('parses --port-range FIRST-LAST and refuses reversed, zero or out-of-range ends with the flag named', () => {
    expect(parsePortRange('40000-40999')).toEqual({ ok: true, value: { first: 40_000, last: 40_999 } });
    expect(parsePortRange('5000-5000')).toEqual({ ok: true, value: { first: 5000, last: 5000 } });
    for (const bad of ['40999-40000', '0-10', '1-65536', '40000', 'a-b', '']) {
      const r = parsePortRange(bad);
      expect(r.ok).toBe(false);
      if (!r.ok)
        expect(r.error).toMatchObject({
          field: 'port-range',
          message: expect.stringContaining('FIRST-LAST'),
        });
    }
  });

  it('advertises an IPv4 address by default (127.0.0.1 when the host has no other)', async () => {
    expect(await defaultAdvertiseAddress()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
